/**
 * What a ledger line holds: one record of one run. The types every part of
 * the ledger shares (the writer, the fold into run states, the incremental
 * view), in a module of their own that imports none of them.
 */
import { randomUUID } from "node:crypto";

export const LEDGER_VERSION = 1;

export type LedgerEvent =
  /** Before a cloud call: `op` names it, `data` what it is about. */
  | "intent"
  /** After a cloud call succeeded: `data` holds the ids it returned. */
  | "done"
  /** A cloud call failed; `data.unclear` when it may have taken effect anyway. */
  | "failed"
  /** The registration is complete in the cloud. */
  | "registered"
  /** The run's cloud resources are all gone again. */
  | "rolled-back"
  /** A rollback could not finish; the run stays open for cleanup. */
  | "rollback-failed"
  /** The run failed before anything was created (or everything is known gone); closed. */
  | "abandoned"
  /** The device accepted the credentials (COMMIT). */
  | "committed"
  /** The observer saw the device's first publish. */
  | "first-publish"
  /**
   * The run takes over a certificate issued earlier for the same key (an
   * earlier run's, or one found in the cloud) instead of minting a second one.
   */
  | "adopted"
  /** The run's certificate was deactivated and detached: the device holds a newer one. */
  | "retired"
  /**
   * A certificate found ACTIVE on the device's thing in the cloud that no run
   * of this ledger made (another ledger's, another station's, or not this
   * tool's), taken into the ledger as a run of its own with the operator's
   * consent (`data.consent`: the flag) so that it is retired once the device
   * publishes with a newer one, by this run or whichever finishes it.
   */
  | "found"
  /**
   * The board was flashed (or found running the image's build) before it was
   * provisioned: `data` holds the chip (type, revision, MAC, flash id), the
   * image (every region's offset and MD5, the app's ELF SHA-256) and the
   * outcome. A run of its own, closed at once: it touches nothing in the cloud.
   */
  | "flashed";

/** register: the registration; rollback/cleanup: undoing it; retire: retiring a superseded certificate. */
export type LedgerPhase = "register" | "rollback" | "cleanup" | "retire";

export interface LedgerRecord {
  v: number;
  /** ISO 8601 time the record was written. */
  ts: string;
  /** One provisioning attempt. */
  run: string;
  /** Device id (base MAC) when known. */
  device?: string;
  thing?: string;
  event: LedgerEvent;
  phase?: LedgerPhase;
  /** AWS operation for intent/done/failed. */
  op?: string;
  data?: Record<string, unknown>;
}

export type LedgerEntry = Omit<LedgerRecord, "v" | "ts">;

export function newRunId(): string {
  return randomUUID();
}
