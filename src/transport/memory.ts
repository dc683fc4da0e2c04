/**
 * In-memory transport pair for tests: what one end writes, the other
 * receives (asynchronously, like a real link). When the two ends' baud rates
 * differ the bytes arrive garbled, as on a real UART, so baud switching and
 * its fallback can be tested. Optional faults rewrite or drop bytes in flight.
 */
import { ProvisionError } from "../errors.js";
import { type Transport, TransportListeners } from "./transport.js";

/** Rewrites bytes in flight; return an empty Buffer to drop them. */
export type Fault = (bytes: Buffer) => Buffer;

export interface MemoryPairOptions {
  names?: [string, string];
  baudRate?: number;
  /** Applied to bytes written by end A (the host end, by convention). */
  faultAtoB?: Fault;
  /** Applied to bytes written by end B (the device end). */
  faultBtoA?: Fault;
}

class MemoryEnd implements Transport {
  readonly listeners = new TransportListeners();
  peer: MemoryEnd | undefined;
  fault: Fault | undefined;
  private open = true;
  /** Keeps deliveries in order even though each one is asynchronous. */
  private delivery: Promise<void> = Promise.resolve();

  constructor(
    readonly name: string,
    private rate: number,
  ) {}

  get baudRate(): number {
    return this.rate;
  }

  get isOpen(): boolean {
    return this.open;
  }

  async write(bytes: Uint8Array): Promise<void> {
    if (!this.open)
      throw new ProvisionError("PORT_IO", `write on ${this.name} failed: closed`, { where: this.name });
    const peer = this.peer;
    let out: Buffer = Buffer.from(bytes);
    if (this.fault) out = this.fault(out);
    if (!peer || out.length === 0) return;
    if (peer.baudRate !== this.rate) out = garble(out, this.rate, peer.baudRate);
    const sent = out;
    this.delivery = this.delivery.then(
      () =>
        new Promise<void>((resolve) =>
          setImmediate(() => {
            if (peer.isOpen) peer.listeners.emitData(sent);
            resolve();
          }),
        ),
    );
    await this.delivery;
  }

  onData(listener: (bytes: Buffer) => void): () => void {
    return this.listeners.onData(listener);
  }

  onClose(listener: (error?: Error) => void): () => void {
    return this.listeners.onClose(listener);
  }

  async setBaudRate(baudRate: number): Promise<void> {
    await this.delivery;
    this.rate = baudRate;
  }

  async setSignals(): Promise<boolean> {
    return false;
  }

  async close(): Promise<void> {
    if (!this.open) return;
    this.open = false;
    this.listeners.emitClose();
    const peer = this.peer;
    if (peer?.open) {
      peer.open = false;
      peer.listeners.emitClose(new Error(`${this.name} closed`));
    }
  }
}

/** What a UART at the wrong rate roughly sees: framing garbage, never the original bytes. */
function garble(bytes: Buffer, from: number, to: number): Buffer {
  const n = Math.max(1, Math.round((bytes.length * to) / from));
  const out = Buffer.alloc(n);
  for (let i = 0; i < n; i++) out[i] = ((bytes[i % bytes.length] as number) * 31 + i * 17 + 0x80) & 0xff;
  return out;
}

/** A connected pair [a, b]; by convention a is the host end, b the device end. */
export function createMemoryTransportPair(options: MemoryPairOptions = {}): [Transport, Transport] {
  const [na, nb] = options.names ?? ["memory:host", "memory:device"];
  const rate = options.baudRate ?? 115200;
  const a = new MemoryEnd(na, rate);
  const b = new MemoryEnd(nb, rate);
  a.peer = b;
  b.peer = a;
  a.fault = options.faultAtoB;
  b.fault = options.faultBtoA;
  return [a, b];
}
