/**
 * `provision cleanup`: finishes what runs of a ledger left in the cloud,
 * from the ledger alone (it cannot ask the devices). Each run state has one
 * recovery (docs/reliability.md):
 *
 * - open (interrupted registration, failed rollback, unclear create): rolled back;
 * - registered, but no COMMIT recorded: reported, because a kill right after
 *   COMMIT leaves the same record while the device does hold the
 *   certificate; rolled back only with `includeUncommitted`;
 * - committed or verified, with a later committed run of the same device:
 *   superseded (an interrupted rotation), retired (INACTIVE, detached, kept).
 */
import { asProvisionError } from "../errors.js";
import type { CloudRegistry } from "../registry/registry.js";
import { Ledger } from "./ledger.js";
import type { LockOptions } from "./lock.js";
import { retireRunCertificate, rollbackRun } from "./rollback.js";
import { HOLDING, type LedgerSummary, type RunState, reduceRun } from "./state.js";
import { stopIfInterrupted } from "./steps.js";
import type { TornLine, TornTail } from "./torn.js";

type Who = { run: string; device?: string; thing?: string };

export interface CleanupReport {
  ledger: string;
  runsExamined: number;
  /** Lines the reading skipped: torn records (crashes mid-append), lines that are no record. */
  tornLines: TornLine[];
  /** What followed the last record when the ledger was opened, now kept in `<ledger>.torn`. */
  setAside?: TornTail;
  /** Runs whose resources were removed now. */
  cleaned: (Who & { certificates: string[] })[];
  /** Certificates retired now because their device committed a newer one. */
  retired: (Who & { certificateId: string; supersededBy: string })[];
  /** Runs that still could not be cleaned. */
  failed: (Who & { error: Record<string, unknown> })[];
  /**
   * Registered, no COMMIT recorded: the device may hold the certificate (a
   * kill right after COMMIT) or not (a kill before). Left alone unless
   * includeUncommitted; running `provision` on the device settles it.
   */
  uncommitted: (Who & { certificateId?: string })[];
}

export interface CleanupOptions {
  /** Also roll back runs that registered but have no COMMIT recorded. */
  includeUncommitted?: boolean;
  /** Checked between runs. */
  signal?: AbortSignal;
  /** Given a file: how long to wait for a process that writes it. */
  lock?: Omit<LockOptions, "signal">;
}

const who = (r: RunState): Who => ({ run: r.run, device: r.device, thing: r.thing });

/**
 * Rolls back the target runs. A thing another (kept) run holds is never
 * deleted, and certificates of kept runs are never matched by a key search.
 * Returns per run the certificates removed, or the error.
 */
export async function rollbackRuns(
  registry: CloudRegistry,
  ledger: Ledger,
  summary: LedgerSummary,
  targets: readonly RunState[],
  signal?: AbortSignal,
): Promise<{ run: RunState; certificates?: string[]; error?: unknown }[]> {
  const kept = summary.runs.filter((r) => !targets.includes(r));
  const keep = new Set(kept.flatMap((r) => (r.certificateId ? [r.certificateId] : [])));
  // A thing an interrupted run created may since have been taken over by a later run that
  // finished (a re-run without cleanup in between): it is that run's now and must stay.
  const heldThings = new Set(kept.filter((r) => HOLDING.has(r.status)).flatMap((r) => r.thing ?? []));
  const out: { run: RunState; certificates?: string[]; error?: unknown }[] = [];
  for (const target of targets) {
    stopIfInterrupted(signal);
    const run = target.thing && heldThings.has(target.thing) ? { ...target, thingCreated: false } : target;
    try {
      await rollbackRun(registry, ledger, run, "cleanup", keep);
      const found = reduceRun(ledger.recordsOf(run.run)).foundCertificates;
      out.push({ run, certificates: [...(run.certificateId ? [run.certificateId] : []), ...found] });
    } catch (error) {
      out.push({ run, error });
    }
  }
  return out;
}

/**
 * Holding runs whose certificate a later committed run of the same device
 * replaced: the device switched sets atomically at that COMMIT and cannot go
 * back, so the older certificates only wait to be retired.
 */
export function supersededRuns(summary: LedgerSummary): { run: RunState; by: RunState }[] {
  const out: { run: RunState; by: RunState }[] = [];
  const runs = summary.runs;
  const committed = (r: RunState) => r.status === "committed" || r.status === "verified";
  for (let i = 0; i < runs.length; i++) {
    const latest = runs[i] as RunState;
    if (!committed(latest) || latest.device === undefined) continue;
    if (runs.slice(i + 1).some((r) => r.device === latest.device && committed(r))) continue;
    for (const r of runs.slice(0, i)) {
      if (r.device === latest.device && HOLDING.has(r.status) && r.certificateId !== latest.certificateId)
        out.push({ run: r, by: latest });
    }
  }
  return out;
}

/**
 * Finishes every open run of the ledger and retires superseded certificates,
 * appending to the same ledger. Idempotent: a second run finds nothing to do.
 * Given a file, it opens the ledger as its one writer (waiting for a live
 * process that writes it, or refusing: `lock`), so a run in progress is
 * never taken for an interrupted one; given an open Ledger (a station's
 * start-up), it works on that.
 */
export async function cleanupFromLedger(
  registry: CloudRegistry,
  ledgerOrFile: Ledger | string,
  options: CleanupOptions = {},
): Promise<CleanupReport> {
  const ledger =
    typeof ledgerOrFile === "string"
      ? await Ledger.open(ledgerOrFile, { ...options.lock, signal: options.signal })
      : ledgerOrFile;
  try {
    return await cleanupOpenLedger(registry, ledger, options);
  } finally {
    if (typeof ledgerOrFile === "string") await ledger.close();
  }
}

async function cleanupOpenLedger(
  registry: CloudRegistry,
  ledger: Ledger,
  options: CleanupOptions,
): Promise<CleanupReport> {
  const summary = await ledger.summary();
  const report: CleanupReport = {
    ledger: ledger.file,
    runsExamined: summary.runs.length,
    tornLines: ledger.skippedLines(),
    ...(ledger.tornTail ? { setAside: ledger.tornTail } : {}),
    cleaned: [],
    retired: [],
    failed: [],
    uncommitted: [],
  };
  const include = options.includeUncommitted === true;
  const targets = summary.runs.filter((r) => r.open || (include && r.status === "registered"));
  for (const r of await rollbackRuns(registry, ledger, summary, targets, options.signal)) {
    if (r.error === undefined) report.cleaned.push({ ...who(r.run), certificates: r.certificates ?? [] });
    else report.failed.push({ ...who(r.run), error: asProvisionError(r.error).toJSON() });
  }
  for (const { run, by } of supersededRuns(summary)) {
    if (targets.includes(run) || run.certificateId === undefined) continue;
    stopIfInterrupted(options.signal);
    try {
      await retireRunCertificate(registry, ledger, run, { supersededBy: by.run });
      report.retired.push({ ...who(run), certificateId: run.certificateId, supersededBy: by.run });
    } catch (e) {
      report.failed.push({ ...who(run), error: asProvisionError(e).toJSON() });
    }
  }
  const retired = new Set(report.retired.map((r) => r.run));
  for (const r of summary.runs) {
    if (r.status === "registered" && !include && !retired.has(r.run))
      report.uncommitted.push({ ...who(r), certificateId: r.certificateId });
  }
  return report;
}
