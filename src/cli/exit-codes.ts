import type { ErrorCode } from "../errors.js";
import type { InterruptSignalName } from "../provision/interruption.js";

/**
 * The only place where errors become exit statuses (documented in the
 * README). Classes are spaced so a script can test ranges: 2-9 usage and
 * configuration, 10-19 serial port and device, 20-29 cloud, 30-39
 * verification of the first publish.
 */
export const EXIT_CODES: Record<ErrorCode, number> = {
  USAGE: 2,
  CONFIG: 3,
  UNKNOWN_BOARD: 4,
  PORT_NOT_GIVEN: 5,
  PORT_NOT_FOUND: 10,
  PORT_BUSY: 11,
  PORT_PERMISSION: 12,
  PORT_IO: 13,
  DEVICE_SILENT: 14,
  DEVICE_PROTOCOL: 15,
  DEVICE_REFUSED: 16,
  DEVICE_MISMATCH: 17,
  CSR_REJECTED: 18,
  CERT_REJECTED: 19,
  CLOUD_NO_CREDENTIALS: 20,
  CLOUD_UNREACHABLE: 21,
  CLOUD_THROTTLED: 22,
  CLOUD_ACCESS_DENIED: 23,
  CLOUD_FAILED: 24,
  ROLLBACK_INCOMPLETE: 25,
  VERIFY_TIMEOUT: 30,
  VERIFY_REJECTED: 31,
  INTERRUPTED: 130,
  INTERNAL: 1,
};

/** An interruption exits the way a shell reports death by that signal (128 + its number). */
export const INTERRUPT_EXIT_CODES: Record<InterruptSignalName, number> = {
  SIGHUP: 129,
  SIGINT: 130,
  SIGTERM: 143,
};

export function exitCodeFor(code: ErrorCode): number {
  return EXIT_CODES[code] ?? 1;
}

/** The exit status of a failure: an interruption by a named signal exits as INTERRUPT_EXIT_CODES says. */
export function exitStatusOf(code: ErrorCode, signal: InterruptSignalName | undefined): number {
  if (code === "INTERRUPTED" && signal !== undefined) return INTERRUPT_EXIT_CODES[signal];
  return exitCodeFor(code);
}
