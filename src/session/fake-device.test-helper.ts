/**
 * A protocol v1 device written in TypeScript with this package's own codecs,
 * for session tests over a memory transport or a pty. It keeps real keys
 * (WebCrypto) and signs real CSRs (@peculiar/x509), follows the state machine
 * of section 7, caches the last response for duplicate suppression, and can
 * misbehave on purpose (modes). The firmware's C core is the real device;
 * this one exists so the host can be tested without it.
 */
import { webcrypto } from "node:crypto";
import {
  type Answers,
  BAUD_CONFIRM_MS,
  ChunkReassembler,
  type CommandName,
  commandName,
  DEVICE_STATE,
  type DeviceEvent,
  decodeRequest,
  encodeChunkAck,
  encodeErrorResponse,
  encodeEvent,
  encodeFrame,
  encodeFrameBody,
  encodeOkResponse,
  FACTORY_RESET_TOKEN_BYTES,
  FLAG_CHUNK,
  FLAG_RESPONSE,
  FRAME_OVERHEAD_BYTES,
  type Frame,
  FrameReceiver,
  KEY_STORE,
  KEY_TYPE,
  LOCK_CONFIRMATION,
  MSG,
  RESTART_DELAY_DEFAULT_MS,
  type Requests,
  STATUS,
  sha256,
} from "../protocol/index.js";
import type { Transport } from "../transport/index.js";
import { type Key, makeKey, signCsr } from "./fake-device-keys.test-helper.js";
import {
  ALWAYS_ALLOWED,
  BAUD_SWITCH_SETTLE_MS,
  BOOT_LOG,
  DeviceError,
  garbage,
  lineOf,
  type Outcome,
  STATE_NAMES,
  VALID_STATES,
} from "./fake-device-rules.test-helper.js";
import { type CommittedSet, statusAnswerOf } from "./fake-device-state.test-helper.js";

export type FakeDeviceMode = "normal" | "silent" | "garbage" | "wrong-version" | "drops-first-response";

export interface FakeDeviceOptions {
  mode?: FakeDeviceMode;
  maxFrame?: number;
  baudRates?: number[];
  keyTypes?: number[];
  keyStores?: number[];
  /** False: answer SET_BAUD but stay at the old rate (a broken bridge), to exercise the fallback. */
  followBaudSwitch?: boolean;
  /** Extra delay before answering, per command (e.g. slow key generation). */
  delayMs?: Partial<Record<CommandName, number>>;
  deviceId?: string;
  /** Log lines printed at boot (default: ROM banner and a few ESP-IDF lines). */
  bootLog?: string[];
}

export class FakeDevice {
  /** Commands actually executed (cached replays of a retried request are not counted). */
  readonly executions: Record<string, number> = {};
  /** Valid frames received, retries included. */
  framesReceived = 0;
  state: number = DEVICE_STATE.EMPTY;
  key: Key | undefined;
  pendingKey: Key | undefined;
  staged: Buffer | undefined;
  committed: CommittedSet | undefined;
  generation = 0;

  private readonly mode: FakeDeviceMode;
  private readonly bootBaudRate: number;
  private readonly maxFrame: number;
  private readonly receiver = new FrameReceiver();
  private readonly reassembler = new ChunkReassembler();
  private last: { type: number; seq: number; line: Buffer } | undefined;
  private readonly answered = new Set<string>();
  private work: Promise<void> = Promise.resolve();
  private token: { value: Buffer; expires: number } | undefined;
  private eventSeq = 0;
  private bootMs = Date.now();
  private baudRevert: NodeJS.Timeout | undefined;
  private readonly unsubscribe: () => void;

  constructor(
    private readonly transport: Transport,
    private readonly options: FakeDeviceOptions = {},
  ) {
    this.mode = options.mode ?? "normal";
    this.bootBaudRate = transport.baudRate;
    this.maxFrame = options.maxFrame ?? 2048;
    this.unsubscribe = transport.onData((b) => this.onBytes(b));
  }

  /** Prints the boot log and a BOOT event, as after a reset. */
  async boot(): Promise<void> {
    this.bootMs = Date.now();
    for (const l of this.options.bootLog ?? BOOT_LOG) await this.log(l);
    if (this.mode === "normal" || this.mode === "drops-first-response")
      await this.sendEvent({ code: 1, text: "boot" });
  }

  async log(line: string): Promise<void> {
    await this.transport.write(Buffer.from(`${line}\r\n`, "utf8"));
  }

  async sendEvent(event: DeviceEvent): Promise<void> {
    this.eventSeq = (this.eventSeq + 1) & 0xffff;
    await this.transport.write(
      encodeFrame({ version: 1, type: MSG.EVENT, seq: this.eventSeq, flags: 0, payload: encodeEvent(event) }),
    );
  }

  /** Forgets an unfinished chunk reassembly, as a device reset mid-transfer would. */
  dropReassembly(): void {
    this.reassembler.reset();
  }

  /** Waits for queued work, then stops listening (the transport stays open). */
  async stop(): Promise<void> {
    await this.work;
    clearTimeout(this.baudRevert);
    this.unsubscribe();
  }

  private ms(): number {
    return Date.now() - this.bootMs;
  }

  private onBytes(bytes: Buffer): void {
    if (this.mode === "silent") {
      // Like application firmware without the provisioning core: it only logs.
      this.work = this.work
        .then(() => this.log(`\x1b[0;32mI (${this.ms()}) app: counter=${this.framesReceived++}\x1b[0m`))
        .catch(() => undefined);
      return;
    }
    for (const e of this.receiver.push(bytes)) {
      if (e.kind === "frame") {
        clearTimeout(this.baudRevert);
        this.baudRevert = undefined;
        this.framesReceived++;
        const f = e.frame;
        this.work = this.work.then(() => this.onFrame(f)).catch(() => undefined);
      } else if (
        e.kind === "error" &&
        e.error === "bad_version" &&
        e.type !== undefined &&
        e.seq !== undefined
      ) {
        const { type, seq } = e;
        const line = encodeFrame({
          version: 1,
          type,
          seq,
          flags: FLAG_RESPONSE,
          payload: encodeErrorResponse(STATUS.ERR_VERSION, "supported versions: 1"),
        });
        this.work = this.work.then(() => this.transport.write(line)).catch(() => undefined);
      }
    }
  }

  private async onFrame(f: Frame): Promise<void> {
    if (f.flags & FLAG_RESPONSE) return;
    if (this.mode === "garbage") {
      await this.transport.write(garbage(160 + (f.seq % 50)));
      return;
    }
    if (this.last && this.last.type === f.type && this.last.seq === f.seq) {
      // Duplicate: answer from the cache, do not execute again.
      await this.transport.write(this.last.line);
      return;
    }
    let flags = FLAG_RESPONSE;
    let outcome: Outcome;
    let after: (() => Promise<void>) | undefined;
    if (f.payload.length + FRAME_OVERHEAD_BYTES > this.maxFrame) {
      outcome = { ok: false, status: STATUS.ERR_TOO_LARGE, text: `frame body over ${this.maxFrame}` };
    } else if (f.flags & FLAG_CHUNK) {
      const step = this.reassembler.accept(f.type, f.payload);
      if (step.kind === "progress") {
        flags |= FLAG_CHUNK;
        outcome = { ok: true, payload: encodeChunkAck(step.received) };
      } else if (step.kind === "error") outcome = { ok: false, status: step.status, text: step.detail };
      else ({ outcome, after } = await this.execute(f.type, step.payload));
    } else {
      ({ outcome, after } = await this.execute(f.type, f.payload));
    }
    const payload = outcome.ok ? outcome.payload : encodeErrorResponse(outcome.status, outcome.text);
    const response: Frame = { version: 1, type: f.type, seq: f.seq, flags, payload };
    const line =
      this.mode === "wrong-version"
        ? lineOf(encodeFrameBody({ ...response, version: 2 }))
        : encodeFrame(response);
    this.last = { type: f.type, seq: f.seq, line };
    const key = `${f.type}:${f.seq}`;
    const drop = this.mode === "drops-first-response" && !this.answered.has(key);
    this.answered.add(key);
    if (!drop) await this.transport.write(line);
    if (after) await after();
  }

  private async execute(
    type: number,
    payload: Buffer,
  ): Promise<{ outcome: Outcome; after?: () => Promise<void> }> {
    const name = commandName(type);
    if (!name)
      return {
        outcome: { ok: false, status: STATUS.ERR_UNKNOWN_TYPE, text: `type 0x${type.toString(16)} unknown` },
      };
    if (this.state === DEVICE_STATE.LOCKED && !ALWAYS_ALLOWED.has(name)) {
      return { outcome: { ok: false, status: STATUS.ERR_LOCKED, text: "device is locked" } };
    }
    if (name === "GET_CSR" && !this.key)
      return { outcome: { ok: false, status: STATUS.ERR_NO_KEY, text: "no key: send GENERATE_KEY first" } };
    const valid = VALID_STATES[name];
    if (valid && !valid.includes(this.state)) {
      return {
        outcome: { ok: false, status: STATUS.ERR_WRONG_STATE, text: `state is ${STATE_NAMES[this.state]}` },
      };
    }
    const d = decodeRequest(name, payload);
    if (!d.ok) return { outcome: { ok: false, status: d.status, text: d.detail.slice(0, 96) } };
    const extra = this.options.delayMs?.[name];
    if (extra) await new Promise((r) => setTimeout(r, extra));
    this.executions[name] = (this.executions[name] ?? 0) + 1;
    try {
      const r = await this.run(name, d.value as never, payload);
      return { outcome: { ok: true, payload: encodeOkResponse(name, r.answer as never) }, after: r.after };
    } catch (e) {
      if (e instanceof DeviceError) return { outcome: { ok: false, status: e.status, text: e.message } };
      return { outcome: { ok: false, status: STATUS.ERR_INTERNAL, text: String(e).slice(0, 96) } };
    }
  }

  private async run<N extends CommandName>(
    name: N,
    r: Requests[N],
    payload: Buffer,
  ): Promise<{ answer: Answers[N]; after?: () => Promise<void> }> {
    const done = (answer: unknown, after?: () => Promise<void>) => ({ answer: answer as Answers[N], after });
    switch (name) {
      case "HELLO":
        return done({
          version: 1,
          deviceId: this.options.deviceId ?? "a1b2c3d4e5f6",
          firmwareVersion: "fake-1.0.0",
          boardId: "fake-device",
          keyTypes: this.options.keyTypes ?? [KEY_TYPE.EC_P256, KEY_TYPE.EC_P384, KEY_TYPE.RSA_2048],
          keyStores: this.options.keyStores ?? [KEY_STORE.FILE],
          state: this.state,
          maxFrame: this.maxFrame,
          baudRates: this.options.baudRates ?? [115200, 460800, 921600],
        });
      case "STATUS":
        return done(statusAnswerOf(this));
      case "PING":
        return done(r);
      case "SET_BAUD": {
        const { baud } = r as Requests["SET_BAUD"];
        if (!(this.options.baudRates ?? [115200, 460800, 921600]).includes(baud))
          throw new DeviceError(STATUS.ERR_BAD_BAUD, `baud ${baud} not supported`);
        return done({ baud }, () => this.switchBaud(baud));
      }
      case "GENERATE_KEY":
        return done(await this.generateKey(r as Requests["GENERATE_KEY"]));
      case "GET_CSR":
        return done({ csr: await this.csr(r as Requests["GET_CSR"]) });
      case "WRITE_CREDENTIALS": {
        // Staged as received: the set digest is over the payload bytes, not a re-encoding.
        this.staged = payload;
        this.state = DEVICE_STATE.STAGED;
        return done({ stagedLength: payload.length, digest: sha256(payload) });
      }
      case "COMMIT": {
        const staged = this.staged as Buffer;
        const fields = decodeRequest("WRITE_CREDENTIALS", staged);
        if (!fields.ok) throw new DeviceError(STATUS.ERR_INTERNAL, "staged set unreadable");
        const certDigest = sha256(Buffer.from(fields.value.certificatePem, "utf8"));
        if (this.pendingKey) {
          this.key = this.pendingKey;
          this.pendingKey = undefined;
        }
        this.generation++;
        this.committed = { payload: staged, certDigest, fields: fields.value };
        this.staged = undefined;
        this.state = DEVICE_STATE.PROVISIONED;
        return done({ setDigest: sha256(staged), certDigest, generation: this.generation });
      }
      case "RESTART": {
        const delayMs = (r as Requests["RESTART"]).delayMs ?? RESTART_DELAY_DEFAULT_MS;
        return done({}, async () => {
          await new Promise((res) => setTimeout(res, delayMs));
          this.reboot();
          // A chip boots at its configured console rate, whatever SET_BAUD chose before.
          clearTimeout(this.baudRevert);
          await this.transport.setBaudRate(this.bootBaudRate);
          await this.boot();
        });
      }
      case "LOCK":
        if ((r as Requests["LOCK"]).confirmation !== LOCK_CONFIRMATION)
          throw new DeviceError(STATUS.ERR_BAD_PAYLOAD, "confirmation must be LOCK");
        this.state = DEVICE_STATE.LOCKED;
        return done({});
      case "FACTORY_RESET": {
        const { token } = r as Requests["FACTORY_RESET"];
        if (!token) {
          const value = Buffer.from(webcrypto.getRandomValues(new Uint8Array(FACTORY_RESET_TOKEN_BYTES)));
          this.token = { value, expires: Date.now() + 30_000 };
          return done({ token: value });
        }
        const t = this.token;
        this.token = undefined;
        if (!t || t.expires < Date.now() || !t.value.equals(token))
          throw new DeviceError(STATUS.ERR_BAD_TOKEN, "token wrong or stale");
        this.key = undefined;
        this.pendingKey = undefined;
        this.staged = undefined;
        this.committed = undefined;
        this.state = DEVICE_STATE.EMPTY;
        return done({});
      }
    }
    throw new DeviceError(STATUS.ERR_UNKNOWN_TYPE, name);
  }

  private reboot(): void {
    this.staged = undefined;
    this.last = undefined;
    this.reassembler.reset();
    this.token = undefined;
    if (this.state === DEVICE_STATE.STAGED)
      this.state = this.committed ? DEVICE_STATE.PROVISIONED : DEVICE_STATE.KEYED;
  }

  private async switchBaud(baud: number): Promise<void> {
    if (this.options.followBaudSwitch === false) return;
    const old = this.transport.baudRate;
    // On a pty, drain returns before the peer has read the answer, and a serial baud change
    // flushes unread output: give the answer time to leave, as a UART's "tx done" would.
    await new Promise((r) => setTimeout(r, BAUD_SWITCH_SETTLE_MS));
    await this.transport.setBaudRate(baud);
    clearTimeout(this.baudRevert);
    // No valid frame at the new rate within BAUD_CONFIRM_MS: go back (section 5.3).
    this.baudRevert = setTimeout(() => {
      this.baudRevert = undefined;
      void this.transport.setBaudRate(old).catch(() => undefined);
    }, BAUD_CONFIRM_MS);
  }

  private async generateKey(r: Requests["GENERATE_KEY"]): Promise<Answers["GENERATE_KEY"]> {
    const types = this.options.keyTypes ?? [KEY_TYPE.EC_P256, KEY_TYPE.EC_P384, KEY_TYPE.RSA_2048];
    const stores = this.options.keyStores ?? [KEY_STORE.FILE];
    const report = (k: Key, created: boolean) => ({
      keyType: k.keyType,
      keyStore: k.keyStore,
      publicKey: k.spki,
      created,
    });
    if (this.key && !r.force) return report(this.key, false);
    if (!types.includes(r.keyType))
      throw new DeviceError(STATUS.ERR_UNSUPPORTED, `key type ${r.keyType} not supported`);
    if (!stores.includes(r.keyStore))
      throw new DeviceError(STATUS.ERR_UNSUPPORTED, `key store ${r.keyStore} not supported`);
    const key = await makeKey(r.keyType, r.keyStore);
    if (this.state === DEVICE_STATE.PROVISIONED) {
      this.pendingKey = key;
    } else {
      this.key = key;
      this.staged = undefined;
      this.state = DEVICE_STATE.KEYED;
    }
    return report(key, true);
  }

  private async csr(subject: Requests["GET_CSR"]): Promise<Buffer> {
    return signCsr(this.pendingKey ?? (this.key as Key), subject);
  }
}
