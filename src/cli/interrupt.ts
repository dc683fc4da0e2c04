/**
 * Ctrl-C while a device is half registered must not leak a certificate: the
 * first SIGINT asks the running command to stop at the next safe point (and
 * roll back what it created); a second one quits at once, leaving the
 * ledger for `provision cleanup`.
 */
import { ProvisionError } from "../errors.js";

export const interrupt = new AbortController();

export function installInterruptHandler(quitNow: () => void): void {
  process.on("SIGINT", () => {
    if (interrupt.signal.aborted) {
      quitNow();
      return;
    }
    process.stderr.write(
      "\ninterrupted: finishing or rolling back what is in flight (Ctrl-C again to quit now)\n",
    );
    interrupt.abort(new ProvisionError("INTERRUPTED", "interrupted by the user (SIGINT)"));
  });
}

/** Throws the interruption at a safe point between steps. */
export function throwIfInterrupted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) {
    throw signal.reason instanceof ProvisionError
      ? signal.reason
      : new ProvisionError("INTERRUPTED", "interrupted");
  }
}
