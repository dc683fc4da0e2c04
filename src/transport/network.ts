/**
 * Serial ports reached over TCP, written the way esptool (pyserial) writes
 * them:
 * - `socket://HOST:PORT`: raw bytes (QEMU's TCP UART, ser2net in raw mode);
 *   no modem lines, no baud rate of its own: a reset must come from
 *   elsewhere (`--before no-reset`);
 * - `rfc2217://HOST:PORT`: Telnet with the Com Port Control Option (ser2net
 *   in telnet mode, the emulated board of `provision sim --emulate --uart
 *   rfc2217`): DTR, RTS and the baud rate go to the far end, so a board's
 *   reset circuit works as over USB.
 */
import { connect, type Socket } from "node:net";
import { ProvisionError } from "../errors.js";
import {
  COM_PORT,
  CONTROL,
  DO,
  escapeData,
  SERVER_OFFSET,
  subnegotiation,
  TELNET_OPTION,
  TelnetDecoder,
  TelnetOptions,
  u32,
  WILL,
} from "./rfc2217.js";
import { type Transport, TransportListeners } from "./transport.js";

/** How long the far end may take to accept the connection, agree to RFC 2217, and confirm a setting. */
const NETWORK_TIMEOUT_MS = 3_000;

export type NetworkPortKind = "socket" | "rfc2217";

export interface NetworkPort {
  kind: NetworkPortKind;
  host: string;
  port: number;
}

/** `socket://host:port` or `rfc2217://host:port`; undefined for anything else (a device path). */
export function parseNetworkPort(path: string): NetworkPort | undefined {
  const m = /^(socket|rfc2217):\/\/(\[[^\]]+\]|[^:/?]+):(\d{1,5})(?:[/?].*)?$/.exec(path);
  if (!m) return undefined;
  const port = Number(m[3]);
  if (port < 1 || port > 65535) return undefined;
  return { kind: m[1] as NetworkPortKind, host: (m[2] ?? "").replace(/^\[|\]$/g, ""), port };
}

export async function openNetworkTransport(
  path: string,
  target: NetworkPort,
  baudRate: number,
): Promise<Transport> {
  const socket = await new Promise<Socket>((resolve, reject) => {
    const s = connect({ host: target.host, port: target.port });
    const timer = setTimeout(() => {
      s.destroy();
      reject(unreachable(path, new Error(`no connection within ${NETWORK_TIMEOUT_MS} ms`)));
    }, NETWORK_TIMEOUT_MS);
    s.once("connect", () => {
      clearTimeout(timer);
      s.setNoDelay(true);
      resolve(s);
    });
    s.once("error", (e) => {
      clearTimeout(timer);
      reject(unreachable(path, e));
    });
  });
  const t = new NetworkTransport(path, socket, target.kind, baudRate);
  if (target.kind === "rfc2217") {
    try {
      await t.negotiate();
    } catch (e) {
      await t.close();
      throw e;
    }
  }
  return t;
}

function unreachable(path: string, e: Error): ProvisionError {
  return new ProvisionError("PORT_NOT_FOUND", `cannot connect to ${path}: ${e.message}`, {
    where: path,
    hint: "check that the serial server (ser2net, the emulator) runs and listens on that host and port",
    cause: e,
  });
}

class NetworkTransport implements Transport {
  private readonly listeners = new TransportListeners();
  private readonly decoder = new TelnetDecoder();
  private open = true;
  private rate: number;
  /** Acknowledgements the server sent, by subcommand code (RFC 2217 answers each with code + 100). */
  private readonly acks = new Map<number, ((value: Buffer) => void)[]>();
  private comPortAgreed: (() => void) | undefined;
  private readonly options = new TelnetOptions((o) => o === TELNET_OPTION.BINARY || o === TELNET_OPTION.SGA);

  constructor(
    readonly name: string,
    private readonly socket: Socket,
    private readonly kind: NetworkPortKind,
    baudRate: number,
  ) {
    this.rate = baudRate;
    socket.on("data", (bytes: Buffer) => this.received(bytes));
    socket.on("close", () => this.closed(new Error("connection closed by the far end")));
    socket.on("error", (e) => this.closed(e));
  }

  get baudRate(): number {
    return this.rate;
  }

  get isOpen(): boolean {
    return this.open;
  }

  /** Asks the server for the Com Port Option and binary mode, then sets the baud rate. */
  async negotiate(): Promise<void> {
    const agreed = new Promise<void>((resolve) => {
      this.comPortAgreed = resolve;
    });
    this.socket.write(
      Buffer.concat([
        this.options.request(WILL, TELNET_OPTION.COM_PORT),
        this.options.request(WILL, TELNET_OPTION.BINARY),
        this.options.request(DO, TELNET_OPTION.BINARY),
      ]),
    );
    await this.withTimeout(agreed, "agree to RFC 2217 (Telnet Com Port Control)");
    await this.setBaudRate(this.rate);
  }

  private received(bytes: Buffer): void {
    if (this.kind === "socket") {
      this.listeners.emitData(bytes);
      return;
    }
    for (const e of this.decoder.push(bytes)) {
      if (e.kind === "data") this.listeners.emitData(e.bytes);
      else if (e.kind === "negotiate") {
        this.socket.write(this.options.receive(e.verb, e.option));
        if (this.options.isAgreed("ours", TELNET_OPTION.COM_PORT)) this.comPortAgreed?.();
      } else if (e.option === TELNET_OPTION.COM_PORT && e.code >= SERVER_OFFSET)
        this.acks.get(e.code - SERVER_OFFSET)?.shift()?.(e.value);
    }
  }

  /** Sends COM-PORT subcommands in one write (lines change together) and waits for every answer. */
  private async command(what: string, ...commands: [code: number, value: Buffer][]): Promise<void> {
    if (!this.open) throw this.ioError(what, new Error("connection is closed"));
    const acked = commands.map(
      ([code]) =>
        new Promise<Buffer>((resolve) => {
          const waiting = this.acks.get(code) ?? [];
          waiting.push(resolve);
          this.acks.set(code, waiting);
        }),
    );
    this.socket.write(Buffer.concat(commands.map(([code, value]) => subnegotiation(code, value))));
    await this.withTimeout(Promise.all(acked), what);
  }

  private async withTimeout<T>(p: Promise<T>, what: string): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new ProvisionError("PORT_IO", `${this.name} did not ${what} within ${NETWORK_TIMEOUT_MS} ms`, {
              where: this.name,
              hint: "is this an RFC 2217 server (ser2net in telnet mode)? A raw TCP port is socket://HOST:PORT",
            }),
          ),
        NETWORK_TIMEOUT_MS,
      );
    });
    try {
      return await Promise.race([p, late]);
    } finally {
      clearTimeout(timer);
    }
  }

  private closed(error?: Error): void {
    if (!this.open) return;
    this.open = false;
    this.socket.destroy();
    this.listeners.emitClose(error);
  }

  private ioError(what: string, err: unknown): ProvisionError {
    const msg = err instanceof Error ? err.message : String(err);
    return new ProvisionError("PORT_IO", `${what} on ${this.name} failed: ${msg}`, {
      where: this.name,
      cause: err,
      hint: "check the network path to the serial server",
    });
  }

  async write(bytes: Uint8Array): Promise<void> {
    if (!this.open) throw this.ioError("write", new Error("connection is closed"));
    const payload = this.kind === "rfc2217" ? escapeData(bytes) : Buffer.from(bytes);
    await new Promise<void>((resolve, reject) =>
      this.socket.write(payload, (err) => (err ? reject(this.ioError("write", err)) : resolve())),
    );
  }

  onData(listener: (bytes: Buffer) => void): () => void {
    return this.listeners.onData(listener);
  }

  onClose(listener: (error?: Error) => void): () => void {
    return this.listeners.onClose(listener);
  }

  async setBaudRate(baudRate: number): Promise<void> {
    if (!Number.isInteger(baudRate) || baudRate <= 0)
      throw new TypeError(`baudRate must be a positive integer, got ${baudRate}`);
    if (this.kind === "rfc2217")
      await this.command(`set ${baudRate} baud`, [COM_PORT.SET_BAUDRATE, u32(baudRate)]);
    this.rate = baudRate;
  }

  async setSignals(signals: { dtr: boolean; rts: boolean }): Promise<boolean> {
    if (this.kind === "socket") return false; // raw TCP carries no modem lines
    await this.command(
      "set DTR and RTS",
      [COM_PORT.SET_CONTROL, Buffer.from([signals.dtr ? CONTROL.DTR_ON : CONTROL.DTR_OFF])],
      [COM_PORT.SET_CONTROL, Buffer.from([signals.rts ? CONTROL.RTS_ON : CONTROL.RTS_OFF])],
    );
    return true;
  }

  async close(): Promise<void> {
    if (!this.open) return;
    this.open = false;
    await new Promise<void>((resolve) => {
      this.socket.end(() => resolve());
      setTimeout(resolve, 500).unref();
    });
    this.socket.destroy();
    this.listeners.emitClose();
  }
}
