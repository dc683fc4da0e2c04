/**
 * DeviceSession: the host side of protocol v1 over any Transport. Pairs
 * requests and responses by (type, seq), retries by resending the same
 * frame, drops late answers, chunks large requests, and turns everything the
 * device says that is not a frame into device log. Every wait has a timeout.
 */

import { EventEmitter } from "node:events";
import { ProvisionError } from "../errors.js";
import {
  type Answers,
  COMMAND_TIMING,
  type CommandName,
  type CommandTiming,
  type CredentialSet,
  type CsrSubject,
  decodeEvent,
  decodeResponse,
  encodeFrame,
  encodeRequest,
  FLAG_CHUNK,
  FLAG_RESPONSE,
  FRAME_BODY_MAX,
  FRAME_BODY_MIN,
  type Frame,
  FrameReceiver,
  type HelloAnswer,
  KEYGEN_TIMEOUT_MS,
  LOCK_CONFIRMATION,
  MSG,
  messageName,
  needsChunking,
  PROTOCOL_VERSION,
  type ReceiverEvent,
  type Requests,
  type StatusAnswer,
  sha256,
} from "../protocol/index.js";
import type { Transport } from "../transport/index.js";
import { answerTimer } from "./answer-wait.js";
import { switchBaudRate } from "./baud-switch.js";
import { BOOT_TIMEOUT_DEFAULT_MS } from "./boot-timeout.js";
import { sendChunked } from "./chunked-request.js";
import { DeviceLog, isUnreadable } from "./device-log.js";
import {
  type DeviceContext,
  deviceRefused,
  noAnswer,
  protocolError,
  REFUSAL_HINTS,
  type Trouble,
} from "./session-errors.js";
import {
  DEVICE_LOG_LINES,
  type DeviceSessionOptions,
  type DeviceTimeouts,
  ERROR_LOG_LINES,
  type SessionEvents,
  type SessionStats,
  type SetBaudResult,
  type TimingKey,
  type WireRecord,
  wireTotals,
} from "./session-types.js";

export { isUnreadable } from "./device-log.js";
export * from "./session-types.js";

interface Pending {
  type: number;
  seq: number;
  resolve: (frame: Frame) => void;
  reject: (error: Error) => void;
}

export class DeviceSession extends EventEmitter<SessionEvents> {
  readonly port: string;
  /** Filled in by hello(). */
  info: HelloAnswer | undefined;
  readonly stats: SessionStats = {
    framesSent: 0,
    framesReceived: 0,
    lateResponses: 0,
    frameErrors: 0,
    retries: 0,
  };
  readonly wire: WireRecord[] = [];

  private readonly receiver = new FrameReceiver();
  private readonly log: DeviceLog;
  private readonly timing: Record<TimingKey, CommandTiming>;
  private readonly unsubscribe: (() => void)[] = [];
  private seq = 0;
  private pending: Pending | undefined;
  private trouble: Trouble | undefined;
  /** When the last byte came in. */
  private bytesAt = 0;
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;
  private frameLimit = FRAME_BODY_MIN;
  private bootBudgetMs = BOOT_TIMEOUT_DEFAULT_MS;
  /** The rate the link was opened at: the device's rate after every boot. */
  private readonly bootBaudRate: number;

  constructor(
    private readonly transport: Transport,
    private readonly options: DeviceSessionOptions = {},
  ) {
    super();
    this.port = transport.name;
    this.bootBaudRate = transport.baudRate;
    this.log = new DeviceLog(options.logLines ?? DEVICE_LOG_LINES);
    const timing = {} as Record<TimingKey, CommandTiming>;
    for (const k of Object.keys(COMMAND_TIMING) as TimingKey[])
      timing[k] = { ...COMMAND_TIMING[k], ...options.timing?.[k] };
    this.timing = timing;
    this.unsubscribe.push(transport.onData((bytes) => this.received(bytes)));
    this.unsubscribe.push(transport.onClose((error) => this.linkClosed(error)));
  }

  /** Largest frame body the host sends: the device's max_frame after HELLO, 256 before. */
  get maxFrame(): number {
    return this.frameLimit;
  }

  /** The last device log lines, oldest first. */
  get deviceLog(): string[] {
    return this.log.lines();
  }

  /** Total bytes recorded per direction (needs recordWire). */
  wireBytes(): { tx: number; rx: number } {
    return wireTotals(this.wire);
  }

  // ---- commands ------------------------------------------------------------

  /** HELLO: learns the device's identity, capabilities, state and max frame. */
  async hello(): Promise<HelloAnswer> {
    const a = await this.call("HELLO", { hostVersion: PROTOCOL_VERSION });
    if (a.version !== PROTOCOL_VERSION) {
      throw protocolError(
        this.where(),
        "HELLO",
        `device speaks protocol version ${a.version}, this host ${PROTOCOL_VERSION}`,
        REFUSAL_HINTS.ERR_VERSION,
      );
    }
    this.info = a;
    this.frameLimit = Math.max(FRAME_BODY_MIN, Math.min(FRAME_BODY_MAX, a.maxFrame));
    return a;
  }

  async status(): Promise<StatusAnswer> {
    return this.call("STATUS", {});
  }

  /** PING; resolves with the echoed bytes (DEVICE_PROTOCOL if they differ). */
  async ping(data?: Buffer): Promise<Buffer | undefined> {
    const a = await this.call("PING", data === undefined ? {} : { data });
    if ((data ?? Buffer.alloc(0)).compare(a.data ?? Buffer.alloc(0)) !== 0) {
      throw protocolError(this.where(), "PING", "device echoed different bytes");
    }
    return a.data;
  }

  /** SET_BAUD, falling back to the old rate when the new one does not work (see baud-switch.ts). */
  async setBaud(baudRate: number): Promise<SetBaudResult> {
    return switchBaudRate(
      {
        transport: this.transport,
        askDevice: (baud) => this.call("SET_BAUD", { baud }),
        ping: () => this.ping(),
        pingBudgetMs: this.timing.PING.timeoutMs * this.timing.PING.attempts,
      },
      baudRate,
    );
  }

  /** GENERATE_KEY: an existing key is reported (created false) unless force. Waits as long as the key type needs. */
  async generateKey(request: Requests["GENERATE_KEY"]): Promise<Answers["GENERATE_KEY"]> {
    const base = this.timing.GENERATE_KEY;
    const timing = this.options.timing?.GENERATE_KEY?.timeoutMs
      ? base
      : { ...base, timeoutMs: Math.max(base.timeoutMs, KEYGEN_TIMEOUT_MS[request.keyType] ?? 0) };
    return this.call(
      "GENERATE_KEY",
      request.force ? request : { keyType: request.keyType, keyStore: request.keyStore },
      undefined,
      timing,
    );
  }

  /** How long a boot (after RESTART, a reset, power-on) may take before the console answers. */
  get bootTimeoutMs(): number {
    return this.bootBudgetMs;
  }

  /**
   * Raises waits for a slow device (a board file's deviceTimeoutsMs,
   * `--device-timeout NAME=MS`): per attempt for commands, in all for BOOT.
   * Never lowers one.
   */
  raiseTimeouts(waits: DeviceTimeouts): void {
    for (const [name, ms] of Object.entries(waits)) {
      if (ms === undefined) continue;
      if (name === "BOOT") this.bootBudgetMs = Math.max(this.bootBudgetMs, ms);
      else {
        const t = this.timing[name as TimingKey];
        if (t) t.timeoutMs = Math.max(t.timeoutMs, ms);
      }
    }
  }

  /** GET_CSR: the CSR (DER) signed on the device. */
  async getCsr(subject: CsrSubject): Promise<Buffer> {
    return (await this.call("GET_CSR", subject)).csr;
  }

  /**
   * WRITE_CREDENTIALS, chunked when it does not fit one frame. Checks that the
   * device staged exactly the bytes sent.
   */
  async writeCredentials(set: CredentialSet): Promise<Answers["WRITE_CREDENTIALS"]> {
    const payload = encodeRequest("WRITE_CREDENTIALS", set);
    const a = await this.call("WRITE_CREDENTIALS", set, payload);
    if (a.stagedLength !== payload.length || !a.digest.equals(sha256(payload))) {
      throw protocolError(
        this.where(),
        "WRITE_CREDENTIALS",
        `device staged ${a.stagedLength} bytes with a different digest than the ${payload.length} sent`,
      );
    }
    return a;
  }

  async commit(): Promise<Answers["COMMIT"]> {
    return this.call("COMMIT", {});
  }

  async restart(delayMs?: number): Promise<void> {
    await this.call("RESTART", delayMs === undefined ? {} : { delayMs });
    // A restarted chip comes back at the rate it boots with, not the one SET_BAUD switched to.
    if (this.transport.baudRate !== this.bootBaudRate) await this.transport.setBaudRate(this.bootBaudRate);
  }

  async lock(): Promise<void> {
    await this.call("LOCK", { confirmation: LOCK_CONFIRMATION });
  }

  /** FACTORY_RESET, both steps: ask for a token, send it back. */
  async factoryReset(): Promise<void> {
    const { token } = await this.call("FACTORY_RESET", {});
    if (!token) throw protocolError(this.where(), "FACTORY_RESET", "device answered step 1 without a token");
    await this.call("FACTORY_RESET", { token });
  }

  /** Stops listening and closes the transport. Outstanding requests fail with PORT_IO. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const line of this.receiver.flush()) this.handle(line);
    for (const u of this.unsubscribe) u();
    this.failPending(new ProvisionError("PORT_IO", `session on ${this.port} closed`, { where: this.port }));
    await this.transport.close();
  }

  // ---- request machinery ---------------------------------------------------

  /** Encodes, sends (chunked if needed), decodes; a device error status becomes DEVICE_REFUSED. */
  private call<N extends CommandName>(
    name: N,
    fields: Requests[N],
    payload?: Buffer,
    timing?: CommandTiming,
  ): Promise<Answers[N]> {
    const run = async () => {
      const body = payload ?? encodeRequest(name, fields);
      const frame = await this.send(name, body, timing);
      const d = decodeResponse(name, frame.payload);
      if (!d.ok) throw protocolError(this.where(), name, `malformed answer: ${d.detail}`);
      if (!d.value.ok) throw deviceRefused(this.where(), name, d.value.error, d.value.text);
      return d.value.fields;
    };
    // One request outstanding per link: commands queue behind each other.
    const p = this.queue.then(run, run);
    this.queue = p.catch(() => undefined);
    return p;
  }

  private async send(name: CommandName, payload: Buffer, timing?: CommandTiming): Promise<Frame> {
    const type = MSG[name];
    if (!needsChunking(payload.length, this.frameLimit))
      return this.exchange(name, type, 0, payload, timing ?? this.timing[name]);
    return sendChunked(
      name,
      payload,
      this.frameLimit,
      (chunk) => this.exchange(name, type, FLAG_CHUNK, chunk, this.timing.CHUNK),
      () => this.where(),
    );
  }

  /** One request frame, its attempts, and its answer. */
  private async exchange(
    name: CommandName,
    type: number,
    flags: number,
    payload: Buffer,
    timing: CommandTiming,
  ): Promise<Frame> {
    if (this.closed)
      throw new ProvisionError("PORT_IO", `${name}: session on ${this.port} is closed`, { where: this.port });
    this.seq = this.seq >= 0xffff ? 1 : this.seq + 1;
    const frame: Frame = { version: PROTOCOL_VERSION, type, seq: this.seq, flags, payload };
    const line = encodeFrame(frame);
    const trouble: Trouble = { frameErrors: 0, badVersion: undefined, unreadableLines: 0, partialFrame: 0 };
    this.trouble = trouble;
    try {
      for (let attempt = 1; attempt <= timing.attempts; attempt++) {
        if (attempt > 1) this.stats.retries++;
        const answer = new Promise<Frame | undefined>((resolve, reject) => {
          // An answer still arriving on a slow line is waited for, not retried (answer-wait.ts).
          const cancel = answerTimer(
            timing.timeoutMs,
            () => ({
              partialFrame: this.receiver.partialFrame,
              partialLog: this.receiver.partialLog,
              garbage: trouble.frameErrors + trouble.unreadableLines > 0,
              lastByteAt: this.bytesAt,
            }),
            () => {
              this.pending = undefined;
              resolve(undefined);
            },
          );
          this.pending = {
            type,
            seq: frame.seq,
            resolve: (f) => {
              cancel();
              resolve(f);
            },
            reject: (e) => {
              cancel();
              reject(e);
            },
          };
        });
        this.options.trace?.({ direction: "tx", frame, name: messageName(type), attempt });
        this.stats.framesSent++;
        if (this.options.recordWire) this.wire.push({ direction: "tx", bytes: line });
        // Not awaited on its own: a write stuck in the driver must not outlive the attempt's timer.
        this.transport
          .write(line)
          .catch((e: unknown) => this.failPending(e instanceof Error ? e : new Error(String(e))));
        const got = await answer;
        if (got) return got;
      }
    } finally {
      this.pending = undefined;
      this.trouble = undefined;
    }
    throw noAnswer(this.where(), name, timing, trouble);
  }

  private received(bytes: Buffer): void {
    if (this.options.recordWire) this.wire.push({ direction: "rx", bytes: Buffer.from(bytes) });
    for (const e of this.receiver.push(bytes)) this.handle(e);
    this.bytesAt = Date.now();
    if (this.trouble && this.receiver.partialFrame > 0)
      this.trouble.partialFrame = this.receiver.partialFrame;
  }

  private handle(e: ReceiverEvent): void {
    if (e.kind === "log") {
      const line = this.log.add(e.text);
      if (this.trouble && isUnreadable(e.text)) this.trouble.unreadableLines++;
      this.emit("log", line);
      return;
    }
    if (e.kind === "error") {
      this.stats.frameErrors++;
      if (this.trouble) {
        this.trouble.frameErrors++;
        if (e.error === "bad_version") this.trouble.badVersion = e.version;
      }
      return;
    }
    const f = e.frame;
    this.stats.framesReceived++;
    this.options.trace?.({ direction: "rx", frame: f, name: messageName(f.type) });
    if (f.type === MSG.EVENT && !(f.flags & FLAG_RESPONSE)) {
      const d = decodeEvent(f.payload);
      if (d.ok) this.emit("event", { ...d.value, seq: f.seq });
      else this.stats.frameErrors++;
      return;
    }
    const p = this.pending;
    if (f.flags & FLAG_RESPONSE && p && p.type === f.type && p.seq === f.seq) {
      this.pending = undefined;
      p.resolve(f);
      return;
    }
    // A late answer to an earlier attempt or request, or a frame the host does not expect.
    this.stats.lateResponses++;
  }

  private linkClosed(error?: Error): void {
    if (this.closed) return;
    this.failPending(
      new ProvisionError("PORT_IO", `serial link ${this.port} closed${error ? `: ${error.message}` : ""}`, {
        where: this.port,
        cause: error,
        hint: "check the cable; the device may have been unplugged or re-enumerated",
        deviceLog: this.log.last(ERROR_LOG_LINES),
      }),
    );
  }

  private failPending(error: Error): void {
    const p = this.pending;
    this.pending = undefined;
    p?.reject(error);
  }

  // ---- errors ---------------------------------------------------------------

  /** What an error about this device needs: its port, line rate, and what it printed. */
  private where(): DeviceContext {
    return {
      port: this.port,
      baudRate: this.transport.baudRate,
      deviceLog: this.log.last(ERROR_LOG_LINES),
      heardLog: this.log.heard(),
    };
  }
}
