/**
 * The commands' side of the one signal policy (docs/reliability.md), installed
 * by src/cli/main.ts. SIGINT (Ctrl-C), SIGTERM (systemd, docker stop,
 * `timeout`) and SIGHUP (the terminal went away) all abort
 * `interrupt.signal`: the running command stops at its next safe point, rolls
 * back or finishes what is in flight, and the process exits 130, 143 or 129.
 * A second signal forces it out, but only once every ledger record whose
 * write had begun is on disk, so the ledger still says what the next run or
 * `provision cleanup` has to finish. A closed stdout or stderr (EPIPE)
 * counts as SIGHUP.
 */
import type { ProvisionError } from "../errors.js";
import { type InterruptSignalName, interruptedError } from "../provision/interruption.js";

export const interrupt = new AbortController();

export const INTERRUPT_SIGNALS: readonly InterruptSignalName[] = ["SIGINT", "SIGTERM", "SIGHUP"];
/** A forced exit waits at most this long for the ledger writes in flight. */
export const FORCED_EXIT_SETTLE_MS = 3000;

const settlers = new Set<() => Promise<void>>();

/**
 * Registers work a forced exit must wait for (a ledger's pending appends).
 * Returns the function that unregisters it.
 */
export function beforeForcedExit(settle: () => Promise<void>): () => void {
  settlers.add(settle);
  return () => settlers.delete(settle);
}

async function settle(): Promise<void> {
  const all = Promise.allSettled([...settlers].map((s) => s()));
  await Promise.race([all, new Promise((r) => setTimeout(r, FORCED_EXIT_SETTLE_MS).unref())]);
}

const HOW_TO_FORCE: Record<InterruptSignalName, string> = {
  SIGINT: "Ctrl-C again to quit now",
  SIGTERM: "send SIGTERM again to quit now",
  SIGHUP: "send another signal to quit now",
};

/**
 * Signals that arrived while the tool was still loading, kept by
 * bin/provision.js (Node's default action would have killed the process
 * without its exit status).
 */
interface EarlySignals {
  signals: InterruptSignalName[];
  remember: (signal: InterruptSignalName) => void;
}
const EARLY_SIGNALS = Symbol.for("provision.earlySignals");

/**
 * A closed stdout or stderr (`provision ... 2>&1 | head`, a log pipe whose
 * reader died) is the terminal going away: it stops the job like SIGHUP
 * (next safe point, roll back or finish, exit 129), instead of an unhandled
 * EPIPE ending the process between a registration and its rollback.
 */
function watchOutputs(onClosed: (stream: "stdout" | "stderr", code: string) => void): void {
  for (const name of ["stdout", "stderr"] as const) {
    process[name].on("error", (e: NodeJS.ErrnoException) => onClosed(name, e.code ?? e.message));
  }
}

export function installInterruptHandler(quitNow: (error: ProvisionError) => void): void {
  watchOutputs((stream, code) => {
    if (interrupt.signal.aborted) return;
    const other = stream === "stdout" ? process.stderr : process.stdout;
    const text = `interrupted: ${stream} was closed (${code}), as when the terminal goes away: finishing or rolling back what is in flight`;
    try {
      if (stream === "stdout") other.write(`\n${text}\n`);
    } catch {
      // both closed: the interruption itself still matters
    }
    interrupt.abort(interruptedError("SIGHUP", text));
  });
  const onSignal = (signal: InterruptSignalName) => {
    // The terminal may be gone (SIGHUP): a failed write to it must not crash the rollback.
    process.stderr.on("error", () => undefined);
    process.stdout.on("error", () => undefined);
    if (interrupt.signal.aborted) {
      void settle().then(() =>
        quitNow(
          interruptedError(
            signal,
            `interrupted twice (${signal}): quitting now; the next run on the device or \`provision cleanup --ledger FILE\` finishes what was in flight`,
          ),
        ),
      );
      return;
    }
    try {
      process.stderr.write(
        `\ninterrupted: finishing or rolling back what is in flight (${signal}; ${HOW_TO_FORCE[signal]})\n`,
      );
    } catch {
      // stderr closed: the interruption itself still matters
    }
    interrupt.abort(interruptedError(signal, `interrupted by ${signal}`));
  };
  const early = (globalThis as { [EARLY_SIGNALS]?: EarlySignals })[EARLY_SIGNALS];
  for (const s of INTERRUPT_SIGNALS) {
    if (early) process.off(s, early.remember);
    process.on(s, onSignal);
  }
  for (const s of early?.signals.splice(0) ?? []) onSignal(s);
}
