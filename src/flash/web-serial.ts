/**
 * The seam to esptool-js: a W3C Web Serial `SerialPort` (what esptool-js's
 * Transport wraps) made of this tool's own Transport, so a device path, a
 * pseudo-terminal, `socket://` and `rfc2217://` all work for flashing as
 * they do for provisioning. It moves bytes and drives DTR/RTS; it knows
 * nothing of the loader protocol or of images.
 */
import type { Transport } from "../transport/index.js";

export interface WebSerialOptions {
  /** Opens the link at a rate; called by esptool-js's connect(). */
  open: (baudRate: number) => Promise<Transport>;
  /** USB ids of the port, when known (esptool-js picks the USB-Serial-JTAG reset by them). */
  usb?: { vendorId: number; productId: number };
}

/** The subset of the Web Serial API esptool-js uses, plus the in-place baud change it prefers. */
export class TransportSerialPort {
  readable: ReadableStream<Uint8Array> | null = null;
  writable: WritableStream<Uint8Array> | null = null;
  private link: Transport | undefined;
  private dtr = false;
  private rts = false;
  private readonly unsubscribe: (() => void)[] = [];

  constructor(private readonly options: WebSerialOptions) {}

  async open(opts: { baudRate: number }): Promise<void> {
    const link = await this.options.open(opts.baudRate);
    this.link = link;
    this.readable = new ReadableStream<Uint8Array>({
      start: (controller) => {
        this.unsubscribe.push(link.onData((bytes) => controller.enqueue(new Uint8Array(bytes))));
        this.unsubscribe.push(
          link.onClose((error) => {
            try {
              if (error) controller.error(error);
              else controller.close();
            } catch {
              // the stream was already cancelled by its reader
            }
          }),
        );
      },
      cancel: () => this.detach(),
    });
    this.writable = new WritableStream<Uint8Array>({ write: (chunk) => link.write(chunk) });
  }

  private detach(): void {
    for (const u of this.unsubscribe.splice(0)) u();
  }

  /** W3C semantics: members left out keep their state (esptool-js sets DTR and RTS one at a time). */
  async setSignals(signals: { dataTerminalReady?: boolean; requestToSend?: boolean; break?: boolean }) {
    if (signals.dataTerminalReady !== undefined) this.dtr = signals.dataTerminalReady;
    if (signals.requestToSend !== undefined) this.rts = signals.requestToSend;
    await this.link?.setSignals({ dtr: this.dtr, rts: this.rts });
  }

  async setBaudRate(baudRate: number): Promise<void> {
    await this.link?.setBaudRate(baudRate);
  }

  getInfo(): { usbVendorId?: number; usbProductId?: number } {
    return this.options.usb
      ? { usbVendorId: this.options.usb.vendorId, usbProductId: this.options.usb.productId }
      : {};
  }

  async close(): Promise<void> {
    this.detach();
    this.readable = null;
    this.writable = null;
    await this.link?.close();
  }
}
