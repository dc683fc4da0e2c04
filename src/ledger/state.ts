/**
 * Folds ledger records into the state of each run and each device: what
 * exists in the cloud for it, and whether it is finished, still open (needs
 * cleanup) or closed. Pure: the same function serves the in-process rollback,
 * `provision cleanup` and the station's resume.
 */
import type { LedgerRecord } from "./records.js";

export type RunStatus =
  /** Registration started and did not finish (crash, kill, or still running). */
  | "in-progress"
  /** Cloud side complete; the device does not have the credentials yet. */
  | "registered"
  /** The device committed the credentials. */
  | "committed"
  /** The device's first publish was seen: finished. */
  | "verified"
  /** Everything this run created is gone again. */
  | "rolled-back"
  /** Failed before anything was created. */
  | "abandoned"
  /** A rollback did not finish, or an unclear CreateCertificateFromCsr is not resolved. */
  | "rollback-open"
  /** A later run adopted this run's certificate (same key): closed, that run holds it now. */
  | "superseded"
  /** Its certificate was deactivated and detached after the device committed a newer one: closed. */
  | "retired"
  /**
   * A certificate found on the device's thing in the cloud, made outside this
   * ledger, to retire once the device publishes with a newer one (records.ts).
   */
  | "found"
  /** A record of a flash (records.ts): closed, no effect on the cloud or the device's certificates. */
  | "flashed";

export interface RunState {
  run: string;
  device?: string;
  thing?: string;
  startedAt: string;
  lastAt: string;
  status: RunStatus;
  /** Needs `provision cleanup` (or a live process still working on it). */
  open: boolean;
  certificateId?: string;
  certificateArn?: string;
  /** SHA-256 (hex) of the certificate PEM: what the device reports in STATUS once it holds it. */
  certSha256?: string;
  /** SHA-256 (hex) of the device key (SPKI DER) the run registered. */
  spkiSha256?: string;
  /** The run whose certificate this one adopted. */
  adoptedFrom?: string;
  /** true: CreateThing made it; "maybe": CreateThing's outcome is unknown; false: it existed already. */
  thingCreated: boolean | "maybe";
  thingArn?: string;
  /** Policy name whose AttachPolicy was at least attempted. */
  policyAttachAttempted?: string;
  /** AttachThingPrincipal was at least attempted. */
  thingAttachAttempted: boolean;
  /** CreateCertificateFromCsr failed in a way that may have issued a certificate, or never answered. */
  unclearCertificate?: { spkiSha256: string; since: string };
  /** Operations whose intent has no done/failed yet (the crash point). */
  pendingOps: string[];
  lastError?: { op?: string; code?: string; message?: string };
  /** Certificates found and removed for an unclear create. */
  foundCertificates: string[];
  /** A found run: the flag that allowed its retirement (`--force`, `--retire-unknown-certificates`). */
  consent?: string;
}

const OPEN_STATUSES: ReadonlySet<RunStatus> = new Set(["in-progress", "rollback-open"]);
/** Runs whose certificate is live in the cloud and theirs. */
export const HOLDING: ReadonlySet<RunStatus> = new Set(["registered", "committed", "verified", "found"]);
/** Runs that leave the device as an earlier run left it (a found certificate only joins the ledger). */
const NO_EFFECT: ReadonlySet<RunStatus> = new Set([
  "rolled-back",
  "abandoned",
  "superseded",
  "retired",
  "found",
  "flashed",
]);

function str(v: unknown): string | undefined {
  return typeof v === "string" ? v : undefined;
}

/**
 * One run's state, folded record by record (file order): the ledger's index
 * feeds it the records appended since it last looked, so a station does not
 * re-read its whole ledger per device.
 */
export class RunFold {
  private readonly s: RunState;
  private readonly pending = new Map<string, number>();
  // The key of a CreateCertificateFromCsr whose answer never came (a kill mid-call may have issued it).
  private createIntent: { spkiSha256: string; since: string } | undefined;
  private cached: RunState | undefined;

  constructor(first: LedgerRecord) {
    this.s = {
      run: first.run,
      startedAt: first.ts,
      lastAt: first.ts,
      status: "in-progress",
      open: true,
      thingCreated: false,
      thingAttachAttempted: false,
      pendingOps: [],
      foundCertificates: [],
    };
  }

  apply(r: LedgerRecord): void {
    this.cached = undefined;
    const s = this.s;
    const pending = this.pending;
    s.lastAt = r.ts;
    if (r.device) s.device = r.device;
    if (r.thing) s.thing = r.thing;
    const d = r.data ?? {};
    const op = r.op ?? "";
    switch (r.event) {
      case "intent":
        pending.set(op, (pending.get(op) ?? 0) + 1);
        // A rollback under way: until "rolled-back" the run is open, even one that had registered
        // (a device that refused the credentials, then a kill mid-rollback).
        if (r.phase === "rollback" || r.phase === "cleanup") s.status = "rollback-open";
        if (r.phase === "register" || r.phase === undefined) {
          const key = str(d.spkiSha256);
          if (op === "CreateCertificateFromCsr" && key !== undefined) {
            this.createIntent = { spkiSha256: key, since: str(d.since) ?? r.ts };
            s.spkiSha256 = key;
          }
          if (op === "CreateThing") s.thingCreated = s.thingCreated === true ? true : "maybe";
          if (op === "AttachPolicy") s.policyAttachAttempted = str(d.policyName);
          if (op === "AttachThingPrincipal") s.thingAttachAttempted = true;
        }
        break;
      case "done":
      case "failed":
        pending.set(op, Math.max(0, (pending.get(op) ?? 0) - 1));
        if (r.event === "failed") {
          s.lastError = { op, code: str(d.code), message: str(d.message) };
          if (op === "CreateCertificateFromCsr" && d.unclear === true && str(d.spkiSha256)) {
            s.unclearCertificate = { spkiSha256: str(d.spkiSha256) ?? "", since: str(d.since) ?? r.ts };
          }
          if (op === "CreateThing" && d.unclear !== true && s.thingCreated === "maybe")
            s.thingCreated = false;
          break;
        }
        if (op === "CreateCertificateFromCsr") {
          s.certificateId = str(d.certificateId);
          s.certificateArn = str(d.certificateArn);
          s.certSha256 = str(d.certSha256);
        }
        if (op === "CreateThing") {
          s.thingCreated = d.created === true;
          s.thingArn = str(d.thingArn);
        }
        if (op === "FindUnclearCertificates") {
          const ids = Array.isArray(d.certificateIds)
            ? d.certificateIds.filter((x) => typeof x === "string")
            : [];
          s.foundCertificates.push(...(ids as string[]));
        }
        break;
      case "registered":
        s.status = "registered";
        break;
      case "committed":
        s.status = "committed";
        break;
      case "first-publish":
        s.status = "verified";
        break;
      case "rolled-back":
        s.status = "rolled-back";
        break;
      case "abandoned":
        s.status = "abandoned";
        break;
      case "rollback-failed":
        s.status = "rollback-open";
        s.lastError = { op, code: str(d.code), message: str(d.message) };
        break;
      case "adopted":
        s.certificateId = str(d.certificateId);
        s.certificateArn = str(d.certificateArn);
        s.certSha256 = str(d.certSha256);
        s.spkiSha256 = str(d.spkiSha256);
        s.adoptedFrom = str(d.fromRun);
        // The thing an earlier run of this key created is this run's to remove on rollback.
        if (d.thingCreated === true) s.thingCreated = true;
        break;
      case "retired":
        s.status = "retired";
        break;
      case "flashed":
        s.status = "flashed";
        break;
      case "found":
        s.status = "found";
        s.certificateId = str(d.certificateId);
        s.certificateArn = str(d.certificateArn);
        s.certSha256 = str(d.certSha256);
        s.spkiSha256 = str(d.spkiSha256);
        s.consent = str(d.consent);
        break;
    }
  }

  /** The state so far (a copy; cached until the next record). */
  state(): RunState {
    if (this.cached) return { ...this.cached };
    const s: RunState = { ...this.s, foundCertificates: [...this.s.foundCertificates] };
    s.pendingOps = [...this.pending].filter(([, n]) => n > 0).map(([op]) => op);
    // No answer recorded is as unclear as a lost one: without the search, cleanup would close the run
    // and leave the certificate the service may have issued ACTIVE and unattached.
    if (
      s.pendingOps.includes("CreateCertificateFromCsr") &&
      s.certificateId === undefined &&
      s.unclearCertificate === undefined &&
      this.createIntent !== undefined
    )
      s.unclearCertificate = this.createIntent;
    s.open = OPEN_STATUSES.has(s.status);
    this.cached = s;
    return { ...s };
  }
}

/** Folds one run's records (in file order). */
export function reduceRun(records: readonly LedgerRecord[]): RunState {
  const first = records[0];
  if (first === undefined) throw new TypeError("reduceRun needs at least one record");
  const fold = new RunFold(first);
  for (const r of records) fold.apply(r);
  return fold.state();
}

export interface DeviceSummary {
  /** Device id, or the thing name when the device id is unknown. */
  key: string;
  device?: string;
  thing?: string;
  /** Status of the device's latest run. */
  status: RunStatus;
  latestRun: string;
  /** The certificate the device holds as far as the ledger knows (runs that left nothing do not count). */
  certificateId?: string;
  /** The device has working credentials (committed or verified). */
  provisioned: boolean;
  /** First publish seen. */
  finished: boolean;
  /** Runs of this device that still need cleanup. */
  openRuns: string[];
}

export interface LedgerSummary {
  runs: RunState[];
  devices: Record<string, DeviceSummary>;
  openRuns: RunState[];
}

/** Groups records by run (first-seen order) and summarises runs and devices. */
export function summarize(records: readonly LedgerRecord[]): LedgerSummary {
  const folds = new Map<string, RunFold>();
  for (const r of records) {
    let fold = folds.get(r.run);
    if (!fold) {
      fold = new RunFold(r);
      folds.set(r.run, fold);
    }
    fold.apply(r);
  }
  return summarizeRuns([...folds.values()].map((f) => f.state()));
}

/** Runs (in first-seen order) into the ledger summary: adoptions close their source, devices summed up. */
export function summarizeRuns(runs: RunState[]): LedgerSummary {
  // An adoption is one record in the adopting run: the run it took over is closed from then on.
  const byId = new Map(runs.map((r) => [r.run, r]));
  for (const r of runs) {
    const source = r.adoptedFrom === undefined ? undefined : byId.get(r.adoptedFrom);
    if (source && HOLDING.has(source.status)) {
      source.status = "superseded";
      source.open = false;
    }
  }
  const devices: Record<string, DeviceSummary> = {};
  for (const run of runs) {
    const key = run.device ?? run.thing ?? run.run;
    const prev = devices[key];
    const openRuns = [...(prev?.openRuns ?? []), ...(run.open ? [run.run] : [])];
    // A run that ended with nothing left (rolled back, abandoned) did not change the device: it still
    // holds what an earlier run gave it, and the station's "already provisioned" check needs that.
    const noEffect = NO_EFFECT.has(run.status);
    devices[key] = {
      key,
      device: run.device ?? prev?.device,
      thing: run.thing ?? prev?.thing,
      status: run.status,
      latestRun: run.run,
      certificateId: noEffect ? prev?.certificateId : run.certificateId,
      provisioned: noEffect
        ? (prev?.provisioned ?? false)
        : run.status === "committed" || run.status === "verified",
      finished: noEffect ? (prev?.finished ?? false) : run.status === "verified",
      openRuns,
    };
  }
  return { runs, devices, openRuns: runs.filter((r) => r.open) };
}
