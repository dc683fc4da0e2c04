/**
 * What a station reports: one record per device taken, the summary of a
 * session, and what a failed run left in the cloud (read from the ledger).
 */
import type { FlashRecord } from "../flash/record.js";
import type { CleanupReport } from "../ledger/index.js";
import type { RollbackOutcome } from "./slot.js";
import type { WireCounters } from "./station-session.js";

export interface DeviceRecord {
  slot: string;
  port: string;
  ok: boolean;
  /** provisioned | rotated | verified, the error code, or not-started (interrupted before its turn). */
  outcome: string;
  deviceId?: string;
  boardId?: string;
  firmwareVersion?: string;
  thingName?: string;
  certificateId?: string;
  /** The step that failed. */
  failedStep?: string;
  error?: { code: string; message: string; hint?: string };
  rollback?: RollbackOutcome;
  startedAt: string;
  totalMs: number;
  timings: Record<string, number>;
  /** Rate the exchange ran at after the optional switch. */
  baud?: number;
  wire?: WireCounters;
  firstPublishMs?: number;
  /** `--until committed`: the generation the device reported after its restart (no publish checked). */
  committedGeneration?: number;
  /** `--flash`: what was written, on which chip. */
  flash?: FlashRecord;
}

export interface StationSummary {
  stationId: string;
  startedAt: string;
  durationMs: number;
  devices: number;
  ok: number;
  provisioned: number;
  verified: number;
  failed: number;
  /** Devices seen but never started because of the interrupt. */
  notStarted: number;
  /** Finished devices per minute over the time from the first device taken to the last one done. */
  devicesPerMinute: number;
  interrupted: boolean;
  resumeCleanup?: CleanupReport;
  records: DeviceRecord[];
}

/** From the ledger, after a failure: what the failed run left in the cloud. */
export function rollbackOutcomeOf(
  runs: readonly { device?: string; startedAt: string; status: string }[],
  deviceId: string | undefined,
  sinceIso: string,
): RollbackOutcome {
  if (deviceId === undefined) return "nothing-registered";
  const mine = runs.filter((r) => r.device === deviceId && r.startedAt >= sinceIso);
  if (mine.length === 0) return "nothing-registered";
  const statuses = mine.map((r) => r.status);
  if (statuses.some((s) => s === "in-progress" || s === "rollback-open" || s === "registered"))
    return "rollback-open";
  if (statuses.some((s) => s === "committed" || s === "verified")) return "kept";
  if (statuses.some((s) => s === "rolled-back")) return "rolled-back";
  return "nothing-registered";
}

/** The summary of a station session over its device records. */
export function summarize(
  r: DeviceRecord[],
  at: {
    stationId: string;
    startedAt: Date;
    interrupted: boolean;
    rate: number;
    resumeCleanup?: CleanupReport;
  },
): StationSummary {
  const s: StationSummary = {
    stationId: at.stationId,
    startedAt: at.startedAt.toISOString(),
    durationMs: Date.now() - at.startedAt.getTime(),
    devices: r.filter((x) => x.outcome !== "not-started").length,
    ok: r.filter((x) => x.ok).length,
    provisioned: r.filter((x) => x.outcome === "provisioned" || x.outcome === "rotated").length,
    verified: r.filter((x) => x.outcome === "verified").length,
    failed: r.filter((x) => !x.ok && x.outcome !== "not-started").length,
    notStarted: r.filter((x) => x.outcome === "not-started").length,
    devicesPerMinute: Math.round(at.rate * 10) / 10,
    interrupted: at.interrupted,
    records: r,
  };
  if (at.resumeCleanup) s.resumeCleanup = at.resumeCleanup;
  return s;
}
