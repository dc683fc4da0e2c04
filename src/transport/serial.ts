/**
 * Transport over a serial port or pseudo-terminal, using node-serialport (and
 * the entry for serial ports over TCP: network.ts).
 */
import type * as Stream from "@serialport/stream";
import { ProvisionError } from "../errors.js";
import { requireCommonJs } from "../require-commonjs.js";
import { serialBinding } from "../serial-binding.js";
import { openNetworkTransport, parseNetworkPort } from "./network.js";
import { type Transport, TransportListeners } from "./transport.js";

const { SerialPortStream } = requireCommonJs("@serialport/stream") as typeof Stream;

export const BAUD_DEFAULT = 115200;

export interface SerialTransportOptions {
  /** Default BAUD_DEFAULT (115200, the ROM bootloader's rate). */
  baudRate?: number;
  /**
   * Drop DTR/RTS when the port closes (default false): on Espressif boards the
   * reset circuit would otherwise be poked on every close.
   */
  hupcl?: boolean;
}

/**
 * Turns a node-serialport open error (a plain Error whose message carries the
 * OS text, no errno) into a ProvisionError with the port in `where`.
 */
export function mapOpenError(path: string, error: unknown): ProvisionError {
  const msg = error instanceof Error ? error.message : String(error);
  const opts = { where: path, cause: error };
  if (/No such file or directory|ENOENT/i.test(msg)) {
    return new ProvisionError("PORT_NOT_FOUND", `serial port ${path} does not exist`, {
      ...opts,
      hint: "check the cable and the port name; `provision ports` lists the serial ports this machine has",
    });
  }
  if (/Permission denied|EACCES/i.test(msg)) {
    return new ProvisionError("PORT_PERMISSION", `no permission to open serial port ${path}`, {
      ...opts,
      hint: `add your user to the dialout group (sudo usermod -aG dialout "$USER"), then log out and in again`,
    });
  }
  if (/Cannot lock port|Resource temporarily unavailable|Device or resource busy|EBUSY|EAGAIN/i.test(msg)) {
    return new ProvisionError("PORT_BUSY", `serial port ${path} is in use by another program`, {
      ...opts,
      hint: "close the other program using it (idf.py monitor, screen, minicom, another provision run) and try again",
    });
  }
  return new ProvisionError("PORT_IO", `cannot open serial port ${path}: ${msg}`, opts);
}

/**
 * Opens `path` (8N1, no flow control, exclusive lock) and returns it as a
 * Transport; `socket://HOST:PORT` and `rfc2217://HOST:PORT` are serial ports
 * over TCP, as esptool writes them (network.ts).
 */
export async function openSerialTransport(
  path: string,
  options: SerialTransportOptions = {},
): Promise<Transport> {
  const baudRate = options.baudRate ?? BAUD_DEFAULT;
  if (!Number.isInteger(baudRate) || baudRate <= 0)
    throw new TypeError(`baudRate must be a positive integer, got ${baudRate}`);
  const remote = parseNetworkPort(path);
  if (remote) return openNetworkTransport(path, remote, baudRate);
  // serialport's own two halves, without the umbrella package's ten parsers we do not use: the stream
  // over the native binding for this OS, as `new SerialPort()` builds it (docs/decisions.md D25).
  const port = new SerialPortStream({
    binding: serialBinding(),
    path,
    baudRate,
    autoOpen: false,
    hupcl: options.hupcl ?? false,
    lock: true,
  });
  await new Promise<void>((resolve, reject) => {
    port.open((err) => (err ? reject(mapOpenError(path, err)) : resolve()));
  });
  return new SerialTransport(path, port, baudRate);
}

class SerialTransport implements Transport {
  private readonly listeners = new TransportListeners();
  private closing = false;
  private open = true;
  private lastWrite: Promise<void> = Promise.resolve();

  constructor(
    readonly name: string,
    private readonly port: Stream.SerialPortStream,
    private rate: number,
  ) {
    port.on("data", (bytes: Buffer) => this.listeners.emitData(bytes));
    port.on("close", (err?: Error & { disconnected?: boolean }) =>
      this.closed(this.closing ? undefined : (err ?? new Error("port closed"))),
    );
    // A stream 'error' after open means the link is gone; the close event follows.
    port.on("error", (err: Error) => this.closed(err));
  }

  get baudRate(): number {
    return this.rate;
  }

  get isOpen(): boolean {
    return this.open;
  }

  private closed(error?: Error): void {
    if (!this.open) return;
    this.open = false;
    this.listeners.emitClose(error);
  }

  private ioError(what: string, err: unknown): ProvisionError {
    const msg = err instanceof Error ? err.message : String(err);
    return new ProvisionError("PORT_IO", `${what} on serial port ${this.name} failed: ${msg}`, {
      where: this.name,
      cause: err,
      hint: "check the cable; the device may have been unplugged or reset into another USB mode",
    });
  }

  async write(bytes: Uint8Array): Promise<void> {
    if (!this.open) throw this.ioError("write", new Error("port is closed"));
    const done = (async () => {
      await new Promise<void>((resolve, reject) => {
        this.port.write(Buffer.from(bytes), (err) => (err ? reject(this.ioError("write", err)) : resolve()));
      });
      await new Promise<void>((resolve, reject) => {
        this.port.drain((err) => (err ? reject(this.ioError("drain", err)) : resolve()));
      });
    })();
    this.lastWrite = done.catch(() => undefined);
    await done;
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
    // node-serialport's update() does tcflush(TCIOFLUSH): unsent output would be lost, so let the
    // last write drain first. Unread input is discarded too (callers switch between exchanges).
    await this.lastWrite;
    await new Promise<void>((resolve, reject) => {
      this.port.update({ baudRate }, (err) =>
        err ? reject(this.ioError(`changing baud rate to ${baudRate}`, err)) : resolve(),
      );
    });
    this.rate = baudRate;
  }

  async setSignals(signals: { dtr: boolean; rts: boolean }): Promise<boolean> {
    return new Promise<boolean>((resolve, reject) => {
      this.port.set({ dtr: signals.dtr, rts: signals.rts }, (err) => {
        if (!err) resolve(true);
        // A pseudo-terminal has no modem lines.
        else if (/Inappropriate ioctl|ENOTTY/i.test(err.message)) resolve(false);
        else reject(this.ioError("setting DTR/RTS", err));
      });
    });
  }

  async close(): Promise<void> {
    if (!this.open) return;
    this.closing = true;
    await new Promise<void>((resolve) => {
      this.port.close(() => resolve());
    });
    this.closed();
  }
}
