/**
 * How a long job learns that it must stop: a plain AbortSignal, whose reason
 * is a ProvisionError INTERRUPTED naming the OS signal (`details.signal`).
 * The pipeline, the station and the commands take it as a parameter; the CLI
 * turns SIGINT, SIGTERM and SIGHUP into it (src/commands/interrupt.ts), tests
 * abort it themselves. It is checked before every step, so a job stops at
 * the next safe point and undoes (or finishes) what it started.
 */
import { ProvisionError } from "../errors.js";

export type InterruptSignalName = "SIGINT" | "SIGTERM" | "SIGHUP";

/** The error an interruption by `signalName` is reported with. */
export function interruptedError(signalName: InterruptSignalName | undefined, message?: string) {
  const by = signalName ? ` (${signalName})` : "";
  return new ProvisionError("INTERRUPTED", message ?? `interrupted${by}`, {
    details: signalName ? { signal: signalName } : {},
  });
}

/** The OS signal behind an interruption (an abort reason or a thrown error), if one is named. */
export function interruptSignalOf(reason: unknown): InterruptSignalName | undefined {
  const name = (reason as { details?: { signal?: unknown } } | undefined)?.details?.signal;
  return name === "SIGINT" || name === "SIGTERM" || name === "SIGHUP" ? name : undefined;
}

function reasonOf(signal: AbortSignal): ProvisionError {
  return signal.reason instanceof ProvisionError ? signal.reason : interruptedError(undefined);
}

/** Throws the interruption at a safe point between steps. */
export function throwIfInterrupted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw reasonOf(signal);
}

/**
 * The promise, or the interruption if it comes first: for waits that are safe
 * to abandon (the first publish, a service that runs until stopped). The
 * abandoned promise's own failure is swallowed.
 */
export function unlessInterrupted<T>(signal: AbortSignal | undefined, work: Promise<T>): Promise<T> {
  if (signal === undefined) return work;
  if (signal.aborted) {
    work.catch(() => undefined);
    return Promise.reject(reasonOf(signal));
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => {
      work.catch(() => undefined);
      reject(reasonOf(signal));
    };
    signal.addEventListener("abort", onAbort, { once: true });
    work.then(
      (v) => {
        signal.removeEventListener("abort", onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(e);
      },
    );
  });
}

/** Resolves when the signal aborts (a service that runs until it is stopped). */
export function whenInterrupted(signal: AbortSignal): Promise<ProvisionError> {
  if (signal.aborted) return Promise.resolve(reasonOf(signal));
  return new Promise((resolve) =>
    signal.addEventListener("abort", () => resolve(reasonOf(signal)), { once: true }),
  );
}
