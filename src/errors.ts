/**
 * One error type for the whole tool. Errors are told apart by `code` (a
 * property, in the style of node-serialport), not by a class tree; only the
 * CLI entry turns a code into an exit status (src/cli/exit-codes.ts).
 *
 * Every message says what happened; `where` says on which port/device/API;
 * `hint` says what to do next. `deviceLog` keeps the last device log lines
 * when a device misbehaved, because they usually say why.
 */
import { printable } from "./printable.js";

export const ERROR_CODES = [
  // usage and configuration
  "USAGE",
  "CONFIG",
  "UNKNOWN_BOARD",
  // serial port and device
  "PORT_NOT_GIVEN",
  "PORT_NOT_FOUND",
  "PORT_BUSY",
  "PORT_PERMISSION",
  "PORT_IO",
  "DEVICE_SILENT",
  "DEVICE_PROTOCOL",
  "DEVICE_REFUSED",
  "DEVICE_MISMATCH",
  // CSR and certificate checks
  "CSR_REJECTED",
  "CERT_REJECTED",
  // cloud
  "CLOUD_NO_CREDENTIALS",
  "CLOUD_UNREACHABLE",
  "CLOUD_THROTTLED",
  "CLOUD_ACCESS_DENIED",
  "CLOUD_FAILED",
  "ROLLBACK_INCOMPLETE",
  // verification
  "VERIFY_TIMEOUT",
  "VERIFY_REJECTED",
  // other
  "INTERRUPTED",
  "INTERNAL",
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

export interface ProvisionErrorOptions {
  /** The port, device id, API operation or file the error is about. */
  where?: string;
  /** What the user should do about it. */
  hint?: string;
  /** Last device log lines (newest last), shown on failure. */
  deviceLog?: string[];
  cause?: unknown;
  /** Extra machine-readable facts for --json output. */
  details?: Record<string, unknown>;
}

export class ProvisionError extends Error {
  readonly code: ErrorCode;
  readonly where: string | undefined;
  readonly hint: string | undefined;
  readonly deviceLog: string[];
  readonly details: Record<string, unknown>;

  constructor(code: ErrorCode, message: string, options: ProvisionErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "ProvisionError";
    this.code = code;
    this.where = options.where;
    this.hint = options.hint;
    this.deviceLog = options.deviceLog ?? [];
    this.details = options.details ?? {};
  }

  /**
   * The same failure told better by a caller that knows more (where it
   * happened, what to do now, the device's last lines): code and message
   * stay, the options given replace those of this one, which becomes the
   * cause unless another is given.
   */
  with(options: ProvisionErrorOptions): ProvisionError {
    const { where, hint, deviceLog, details } = this;
    return new ProvisionError(this.code, this.message, {
      where,
      hint,
      deviceLog,
      details,
      cause: this,
      ...options,
    });
  }

  /** Human text: what, where, what to do, and the device's last words. */
  describe(): string {
    // Messages quote device text (HELLO strings, refusal texts): never let it act on the terminal.
    const lines = [printable(this.where ? `${this.message} (${this.where})` : this.message)];
    if (this.hint) lines.push(`  what to do: ${printable(this.hint)}`);
    if (this.deviceLog.length > 0) {
      lines.push("  last device log lines:");
      for (const l of this.deviceLog) lines.push(`    | ${printable(l)}`);
    }
    return lines.join("\n");
  }

  toJSON(): Record<string, unknown> {
    return {
      code: this.code,
      message: this.message,
      where: this.where,
      hint: this.hint,
      deviceLog: this.deviceLog.length > 0 ? this.deviceLog : undefined,
      ...this.details,
    };
  }
}

export function isProvisionError(e: unknown, code?: ErrorCode): e is ProvisionError {
  return e instanceof ProvisionError && (code === undefined || e.code === code);
}

/** Wraps anything thrown into a ProvisionError, keeping ones that already are. */
export function asProvisionError(e: unknown, fallback: ErrorCode = "INTERNAL"): ProvisionError {
  if (e instanceof ProvisionError) return e;
  const message = e instanceof Error ? e.message : String(e);
  return new ProvisionError(fallback, message, { cause: e });
}
