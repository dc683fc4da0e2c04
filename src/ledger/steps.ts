/**
 * One cloud call as the ledger records it: an intent (fsynced) before the
 * call, then its outcome, so that after a kill at any instant the ledger
 * says which calls may have taken effect.
 */
import { asProvisionError } from "../errors.js";
import { isUnclearOutcome } from "../registry/aws-errors.js";
import type { Ledger } from "./ledger.js";
import type { LedgerEntry, LedgerPhase } from "./records.js";

export type Ids = { run: string; device?: string; thing?: string };

export function entry(ids: Ids, e: Omit<LedgerEntry, "run" | "device" | "thing">): LedgerEntry {
  const out: LedgerEntry = { run: ids.run, ...e };
  if (ids.device !== undefined) out.device = ids.device;
  if (ids.thing !== undefined) out.thing = ids.thing;
  return out;
}

export function errorData(e: unknown): Record<string, unknown> {
  const pe = asProvisionError(e);
  return { code: pe.code, message: pe.message };
}

/** intent -> call -> done (or failed), with timing. */
export async function step<T>(
  ledger: Ledger,
  ids: Ids,
  phase: LedgerPhase,
  op: string,
  data: Record<string, unknown>,
  fn: () => Promise<T>,
  result: (t: T) => Record<string, unknown>,
  timings?: Record<string, number>,
): Promise<T> {
  await ledger.append(entry(ids, { event: "intent", phase, op, data }));
  const started = performance.now();
  let out: T;
  try {
    out = await fn();
  } catch (e) {
    const unclear = isUnclearOutcome((e as { cause?: unknown }).cause ?? e);
    await ledger.append(
      entry(ids, { event: "failed", phase, op, data: { ...data, ...errorData(e), unclear } }),
    );
    throw e;
  }
  if (timings) timings[op] = Math.round(performance.now() - started);
  // Outside the try: a call that succeeded must never be recorded as failed (a "done" that cannot be
  // written leaves the intent pending, which cleanup treats as an unclear outcome).
  await ledger.append(entry(ids, { event: "done", phase, op, data: { ...data, ...result(out) } }));
  return out;
}

/** Stops between cloud calls when the job was interrupted (the caller's catch rolls back). */
export function stopIfInterrupted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw asProvisionError(signal.reason, "INTERRUPTED");
}
