/**
 * Host-side UART pacing for device twins. The twin (--line-rate) paces only
 * the bytes it sends; a pseudo-terminal delivers what the host writes at
 * memory speed, while a real UART at 115200 baud needs ~87 µs per byte in
 * that direction too (10 bits per byte: start, 8 data, stop). WRITE_CREDENTIALS
 * is the largest thing on the wire (certificate + root CAs, ~3-4 KB framed),
 * so without this the host->device half of a benchmark would be too fast.
 *
 * Each write is handed on when its last byte would have left a UART that
 * started sending when the previous write finished: the device sees a whole
 * frame no earlier than it would on the wire (it acts on complete lines).
 */
import type { CloseListener, DataListener, Transport } from "../transport/index.js";

export const UART_BITS_PER_BYTE = 10;

export class PacedTransport implements Transport {
  private busyUntilMs = 0;
  private paceBaud: number;

  /** `paceBaud` starts at the link's rate and follows setBaudRate (a baud switch speeds both directions). */
  constructor(
    private readonly inner: Transport,
    paceBaud = inner.baudRate,
  ) {
    if (!Number.isInteger(paceBaud) || paceBaud <= 0)
      throw new TypeError(`paceBaud must be a positive integer, got ${paceBaud}`);
    this.paceBaud = paceBaud;
  }

  get name(): string {
    return this.inner.name;
  }
  get baudRate(): number {
    return this.inner.baudRate;
  }
  get isOpen(): boolean {
    return this.inner.isOpen;
  }

  async write(bytes: Uint8Array): Promise<void> {
    const now = performance.now();
    const durationMs = (bytes.length * UART_BITS_PER_BYTE * 1000) / this.paceBaud;
    const doneAt = Math.max(now, this.busyUntilMs) + durationMs;
    this.busyUntilMs = doneAt;
    const waitMs = doneAt - now;
    // setTimeout has ~1 ms granularity: sub-millisecond waits would only add jitter.
    if (waitMs >= 1) await new Promise((r) => setTimeout(r, waitMs));
    await this.inner.write(bytes);
  }

  onData(listener: DataListener): () => void {
    return this.inner.onData(listener);
  }
  onClose(listener: CloseListener): () => void {
    return this.inner.onClose(listener);
  }
  async setBaudRate(baudRate: number): Promise<void> {
    await this.inner.setBaudRate(baudRate);
    this.paceBaud = baudRate;
  }
  setSignals(signals: { dtr: boolean; rts: boolean }): Promise<boolean> {
    return this.inner.setSignals(signals);
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}
