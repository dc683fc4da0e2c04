/**
 * Streaming line splitter (docs/protocol.md section 2): separates frame lines
 * from device log text in a byte stream that may arrive in any pieces, and
 * decodes the frames. Never throws; after any garbage the next well-formed
 * frame line is decoded.
 */
import { CARRIAGE_RETURN, FRAME_END, FRAME_LINE_MAX, FRAME_START, LOG_LINE_MAX } from "./constants.js";
import { decodeFrameLine, type Frame, type FrameError, isBase64Char } from "./frame.js";

export type ReceiverEvent =
  | { kind: "frame"; frame: Frame }
  | { kind: "log"; text: string }
  | ({ kind: "error" } & FrameError);

enum Mode {
  Text,
  Frame,
  /** After an oversize frame line: drop bytes until 0x0A or 0x1E. */
  Skip,
}

const utf8 = new TextDecoder("utf-8", { fatal: false });

export class FrameReceiver {
  private mode = Mode.Text;
  private readonly log = Buffer.alloc(LOG_LINE_MAX);
  private logLength = 0;
  private readonly line = Buffer.alloc(FRAME_LINE_MAX);
  private lineLength = 0;

  /** Characters of a frame line received so far and not yet ended (0 between frames). */
  get partialFrame(): number {
    return this.mode === Mode.Frame ? this.lineLength : 0;
  }

  /** Bytes of a log line received so far and not yet ended. */
  get partialLog(): number {
    return this.mode === Mode.Text ? this.logLength : 0;
  }

  /** Feeds bytes; returns what they completed, in order. */
  push(bytes: Uint8Array): ReceiverEvent[] {
    const out: ReceiverEvent[] = [];
    for (const b of bytes) this.step(b, out);
    return out;
  }

  /** Emits a pending partial log line (e.g. when the port closes). Frame state is dropped. */
  flush(): ReceiverEvent[] {
    const out: ReceiverEvent[] = [];
    this.emitLog(out);
    this.mode = Mode.Text;
    this.lineLength = 0;
    return out;
  }

  private step(b: number, out: ReceiverEvent[]): void {
    switch (this.mode) {
      case Mode.Text:
        this.textByte(b, out);
        return;
      case Mode.Frame:
        if (b === FRAME_END) {
          const r = decodeFrameLine(this.line.subarray(0, this.lineLength));
          this.mode = Mode.Text;
          this.lineLength = 0;
          if (r.ok) out.push({ kind: "frame", frame: r.frame });
          else {
            const { ok: _ok, ...error } = r;
            out.push({ kind: "error", ...error });
          }
          return;
        }
        if (b === CARRIAGE_RETURN) return;
        if (!isBase64Char(b)) {
          out.push({
            kind: "error",
            error: "bad_char",
            detail: `byte 0x${b.toString(16).padStart(2, "0")} inside a frame line after ${this.lineLength} characters`,
          });
          this.mode = Mode.Text;
          this.lineLength = 0;
          this.textByte(b, out);
          return;
        }
        if (this.lineLength === FRAME_LINE_MAX) {
          out.push({
            kind: "error",
            error: "oversize",
            detail: `frame line longer than ${FRAME_LINE_MAX} characters`,
          });
          this.mode = Mode.Skip;
          this.lineLength = 0;
          return;
        }
        this.line[this.lineLength++] = b;
        return;
      case Mode.Skip:
        if (b === FRAME_END) this.mode = Mode.Text;
        else if (b === FRAME_START) this.mode = Mode.Frame;
        return;
    }
  }

  private textByte(b: number, out: ReceiverEvent[]): void {
    if (b === FRAME_END) {
      if (this.logLength > 0 && this.log[this.logLength - 1] === CARRIAGE_RETURN) this.logLength--;
      this.emitLog(out);
      return;
    }
    if (b === FRAME_START) {
      this.emitLog(out);
      this.mode = Mode.Frame;
      this.lineLength = 0;
      return;
    }
    // A full buffer is only emitted when more text arrives, so a line of exactly LOG_LINE_MAX stays whole.
    if (this.logLength === LOG_LINE_MAX) this.emitLog(out);
    this.log[this.logLength++] = b;
  }

  private emitLog(out: ReceiverEvent[]): void {
    if (this.logLength > 0)
      out.push({ kind: "log", text: utf8.decode(this.log.subarray(0, this.logLength)) });
    this.logLength = 0;
  }
}
