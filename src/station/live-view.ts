/**
 * The station's live view on stderr: one row per slot (step, elapsed time,
 * last result) and a totals line with the rate. On a terminal the block is
 * redrawn in place with plain ANSI (cursor up + clear to end; rows cut to
 * the terminal width so a wrapped row cannot break the line count); into a
 * file or pipe it prints one line per change instead, which a log keeps.
 */
import { printable } from "../printable.js";
import type { SlotView } from "./slot.js";

export const REDRAW_INTERVAL_MS = 250;

export interface LiveViewSource {
  slots: ReadonlyMap<string, SlotView>;
  rate(): number;
}

export interface LiveViewOptions {
  stream?: NodeJS.WriteStream | NodeJS.WritableStream;
  /** Default: whether the stream is a TTY. */
  tty?: boolean;
  /** Clock for tests. */
  now?: () => number;
}

export const PHASE_LABEL: Record<SlotView["phase"], string> = {
  waiting: "waiting",
  flash: "flashing",
  hello: "hello",
  baud: "baud switch",
  key: "key",
  csr: "CSR",
  register: "register",
  credentials: "credentials",
  commit: "commit",
  firstPublish: "first publish",
  restartCheck: "restart check",
  done: "done",
  failed: "FAILED",
};

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

/** The last result; names its device unless the row already shows that device. */
function lastText(slot: SlotView, deviceShown: boolean): string {
  const last = slot.last;
  if (!last) return "";
  const who = deviceShown && last.deviceId === slot.deviceId ? "" : (last.deviceId ?? "");
  if (last.ok) {
    const cert = last.certificateId ? ` cert ${last.certificateId.slice(0, 10)}…` : "";
    return `${who} ${last.outcome}${cert} in ${seconds(last.totalMs)}`.trim();
  }
  const rollback = last.rollback ? ` [${last.rollback}]` : "";
  return `${who} ${last.outcome}${rollback}: ${last.message ?? ""}`.trim();
}

/** The rows, without any terminal control codes. */
export function renderRows(source: LiveViewSource, nowMs: number): string[] {
  const slots = [...source.slots.values()];
  // With explicit ports the slot is the port: one column is enough.
  const showPort = slots.some((s) => s.slot !== s.port);
  const slotWidth = Math.max(4, ...slots.map((s) => s.slot.length));
  const portWidth = Math.max(4, ...slots.map((s) => s.port.length));
  const portCol = (text: string) => (showPort ? `${text.padEnd(portWidth)}  ` : "");
  const rows = [
    `${"SLOT".padEnd(slotWidth)}  ${portCol("PORT")}${"DEVICE".padEnd(12)}  ${"STEP".padEnd(13)}  ${"ELAPSED".padStart(7)}  LAST`,
  ];
  let ok = 0;
  let failed = 0;
  let active = 0;
  for (const s of slots) {
    ok += s.okCount;
    failed += s.failedCount;
    const running = s.phase !== "waiting" && s.phase !== "done" && s.phase !== "failed";
    if (running) active++;
    const elapsed = running && s.startedAt !== undefined ? seconds(nowMs - s.startedAt) : "";
    const step = running && s.note ? `${PHASE_LABEL[s.phase]}*` : PHASE_LABEL[s.phase];
    rows.push(
      `${s.slot.padEnd(slotWidth)}  ${portCol(s.port)}${(s.deviceId ?? "").padEnd(12)}  ${step.padEnd(13)}  ${elapsed.padStart(7)}  ${lastText(s, true)}`,
    );
  }
  rows.push(`total ${ok} ok, ${failed} failed, ${active} in flight, ${source.rate().toFixed(1)} devices/min`);
  // Rows quote device ids and failure messages: escaped before the view adds its own cursor codes.
  return rows.map(printable);
}

/** One line for a log: what changed in one slot. */
export function renderChange(slot: SlotView, nowMs: number): string {
  const elapsed = slot.startedAt !== undefined ? ` ${seconds(nowMs - slot.startedAt)}` : "";
  const device = slot.deviceId ? ` ${slot.deviceId}` : "";
  if (slot.phase === "done" || slot.phase === "failed") return `[${slot.slot}] ${lastText(slot, false)}`;
  const note = slot.note ? ` (${slot.note})` : "";
  return `[${slot.slot}]${device} ${PHASE_LABEL[slot.phase]}${elapsed}${note}`;
}

export class LiveView {
  private readonly stream: NodeJS.WritableStream;
  private readonly tty: boolean;
  private readonly now: () => number;
  private drawnLines = 0;
  private timer: NodeJS.Timeout | undefined;
  private dirty = false;
  private readonly lastLine = new Map<string, string>();

  constructor(
    private readonly source: LiveViewSource,
    options: LiveViewOptions = {},
  ) {
    this.stream = options.stream ?? process.stderr;
    this.tty = options.tty ?? Boolean((this.stream as NodeJS.WriteStream).isTTY);
    this.now = options.now ?? Date.now;
  }

  start(): void {
    if (!this.tty || this.timer) return;
    // Redraw on a clock too, so elapsed times move while no step changes.
    this.timer = setInterval(() => this.draw(), REDRAW_INTERVAL_MS);
    this.timer.unref();
  }

  /** Hook for Station.onSlotChange. */
  slotChanged(slot: SlotView): void {
    if (this.tty) {
      this.dirty = true;
      return;
    }
    // Until HELLO answers, the row has no device id: its first line waits for it.
    if (slot.phase === "hello" && slot.deviceId === undefined) return;
    const line = renderChange(slot, this.now());
    // Elapsed times change all the time; print a line when the phase or the note did.
    const key = `${slot.phase}|${slot.note ?? ""}|${slot.last?.totalMs ?? ""}`;
    if (this.lastLine.get(slot.slot) === key) return;
    this.lastLine.set(slot.slot, key);
    this.stream.write(`${printable(line)}\n`);
  }

  /** A line above the table (info that is not per slot). */
  info(text: string): void {
    if (this.tty) this.clear();
    this.stream.write(`${printable(text)}\n`);
    if (this.tty) this.draw(true);
  }

  private clear(): void {
    // Cursor to the start of the first drawn line, then clear to the end of the screen.
    if (this.drawnLines > 0) this.stream.write(`\x1b[${this.drawnLines}F\x1b[0J`);
    this.drawnLines = 0;
  }

  draw(force = false): void {
    if (!this.tty) return;
    if (!force && !this.dirty && this.timer === undefined) return;
    this.dirty = false;
    const columns = (this.stream as NodeJS.WriteStream).columns ?? 120;
    const rows = renderRows(this.source, this.now()).map((r) =>
      r.length >= columns ? r.slice(0, columns - 1) : r,
    );
    const home = this.drawnLines > 0 ? `\x1b[${this.drawnLines}F\x1b[0J` : "";
    this.stream.write(`${home}${rows.join("\n")}\n`);
    this.drawnLines = rows.length;
  }

  /** Final draw (the table stays on screen) and stop the clock. */
  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    if (this.tty) this.draw(true);
  }
}
