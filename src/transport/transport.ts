/**
 * The byte-moving seam between the protocol session and a device link (in
 * the spirit of serialport's bindings-interface). A transport knows nothing
 * about frames: it moves bytes, changes the baud rate and drives the modem
 * lines. Implementations: serial port / pseudo-terminal (serial.ts) and an
 * in-memory pair for tests (memory.ts).
 */

export type DataListener = (bytes: Buffer) => void;
/** `error` is set when the link went away on its own (unplugged, I/O error), unset after close(). */
export type CloseListener = (error?: Error) => void;

export interface Transport {
  /** What to show the user: the port path (`/dev/ttyUSB0`) or a test name. */
  readonly name: string;
  /** Current baud rate of this end. */
  readonly baudRate: number;
  /** False once closed (by close() or by the link going away). */
  readonly isOpen: boolean;

  /**
   * Queues bytes for sending. Resolves once they have been handed to the
   * operating system *and* transmitted (drained), so a caller may change the
   * baud rate right after. Rejects with a ProvisionError (PORT_IO) if the
   * link fails or is closed.
   */
  write(bytes: Uint8Array): Promise<void>;

  /**
   * Subscribes to received bytes, in order, in pieces of any size. Bytes that
   * arrive while nobody listens are kept and handed to the first listener.
   * Returns the unsubscribe function.
   */
  onData(listener: DataListener): () => void;

  /** Subscribes to the link closing. Returns the unsubscribe function. */
  onClose(listener: CloseListener): () => void;

  /**
   * Changes the baud rate of this end; bytes already written have left before
   * it changes. Received bytes not yet delivered may be discarded (a serial
   * port flushes its buffers), so switch between exchanges, not during one.
   */
  setBaudRate(baudRate: number): Promise<void>;

  /**
   * Drives DTR and RTS (both always: serialport resets an omitted flag to
   * its default, serialport #384/#1605). Resolves false when the link has no
   * modem lines (a pseudo-terminal answers ENOTTY), true when applied.
   */
  setSignals(signals: { dtr: boolean; rts: boolean }): Promise<boolean>;

  /** Closes the link; idempotent, never rejects. */
  close(): Promise<void>;
}

/**
 * Listener bookkeeping shared by the implementations: holds bytes that arrive
 * before the first data listener subscribes.
 */
export class TransportListeners {
  private readonly data = new Set<DataListener>();
  private readonly closes = new Set<CloseListener>();
  private pending: Buffer[] = [];

  onData(listener: DataListener): () => void {
    this.data.add(listener);
    if (this.pending.length > 0) {
      const held = Buffer.concat(this.pending);
      this.pending = [];
      listener(held);
    }
    return () => this.data.delete(listener);
  }

  onClose(listener: CloseListener): () => void {
    this.closes.add(listener);
    return () => this.closes.delete(listener);
  }

  emitData(bytes: Buffer): void {
    if (this.data.size === 0) {
      this.pending.push(bytes);
      return;
    }
    for (const l of [...this.data]) l(bytes);
  }

  emitClose(error?: Error): void {
    for (const l of [...this.closes]) l(error);
    this.closes.clear();
    this.data.clear();
  }
}
