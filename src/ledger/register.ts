/**
 * Registration of one device in the cloud, step by step, with a ledger
 * record before and after every call and a rollback in AWS's required order
 * when anything fails after the certificate exists (design step 4):
 *
 *   CreateCertificateFromCsr(setAsActive) -> check the certificate's key ->
 *   CreateThing -> ensure policy -> AttachPolicy -> AttachThingPrincipal
 *
 * Rollback: UpdateCertificate INACTIVE -> DetachThingPrincipal (poll until
 * gone) -> DetachPolicy -> DeleteCertificate -> DeleteThing if this run
 * created it. Policies are shared by many devices and never deleted.
 */
import { createHash } from "node:crypto";
import {
  certificateSpkiSha256,
  csrPublicKeySpki,
  spkiDigestHex,
  verifyIssuedCertificate,
} from "../csr/index.js";
import { asProvisionError, ProvisionError } from "../errors.js";
import { isUnclearOutcome } from "../registry/aws-errors.js";
import { arnParts, type CloudRegistry } from "../registry/registry.js";
import { Ledger, type LedgerEntry, type LedgerPhase, newRunId, readLedger } from "./ledger.js";
import { type RunState, reduceRun, summarize } from "./state.js";

export interface RegisterRequest {
  /** The CSR as verified by verifyCsr (PEM). */
  csrPem: string;
  /** The CSR's key (verifyCsr's publicKeySpki); derived from the CSR when omitted. */
  csrPublicKeySpki?: Uint8Array;
  thingName: string;
  /** Thing attributes (AWS: up to 50 with a thing type, 3 without; name and value <= 800 chars). */
  attributes?: Record<string, string>;
  policyName: string;
  /** The document, or a function of the account the certificate was issued in (see leastPrivilegePolicy). */
  policyDocument: string | ((account: { partition: string; region: string; accountId: string }) => string);
  /** Device id (base MAC) for the ledger. */
  deviceId?: string;
  /** Default: a new UUID. */
  runId?: string;
  /** AttachThingPrincipal with EXCLUSIVE_THING (default true). */
  exclusive?: boolean;
}

export interface Registration {
  run: string;
  deviceId?: string;
  thingName: string;
  thingArn: string;
  thingCreated: boolean;
  certificateId: string;
  certificateArn: string;
  certificatePem: string;
  policyName: string;
  policyArn: string;
  policyCreated: boolean;
  /** Milliseconds per operation. */
  timingsMs: Record<string, number>;
}

/** Certificates created up to this long before the unclear call are still candidates (clock skew). */
export const UNCLEAR_SEARCH_SLACK_MS = 120_000;
/** How many certificates an unclear-create search lists at most (newest first). */
export const UNCLEAR_SEARCH_MAX_CERTIFICATES = 2000;

type Ids = { run: string; device?: string; thing?: string };

function entry(ids: Ids, e: Omit<LedgerEntry, "run" | "device" | "thing">): LedgerEntry {
  const out: LedgerEntry = { run: ids.run, ...e };
  if (ids.device !== undefined) out.device = ids.device;
  if (ids.thing !== undefined) out.thing = ids.thing;
  return out;
}

function errorData(e: unknown): Record<string, unknown> {
  const pe = asProvisionError(e);
  return { code: pe.code, message: pe.message };
}

/** intent -> call -> done (or failed), with timing. */
async function step<T>(
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

export async function registerWithRollback(
  registry: CloudRegistry,
  ledger: Ledger,
  request: RegisterRequest,
): Promise<Registration> {
  const ids: Ids = { run: request.runId ?? newRunId(), device: request.deviceId, thing: request.thingName };
  const timings: Record<string, number> = {};
  const spki = request.csrPublicKeySpki ?? csrPublicKeySpki(request.csrPem);
  const spkiSha256 = spkiDigestHex(spki);
  const csrSha256 = createHash("sha256").update(request.csrPem).digest("hex");

  // 1. Certificate. An unclear failure here may still have issued one.
  const since = new Date().toISOString();
  let cert: Awaited<ReturnType<CloudRegistry["createCertificateFromCsr"]>>;
  try {
    cert = await step(
      ledger,
      ids,
      "register",
      "CreateCertificateFromCsr",
      { spkiSha256, csrSha256, since },
      () => registry.createCertificateFromCsr(request.csrPem, true),
      (c) => ({ certificateId: c.certificateId, certificateArn: c.certificateArn }),
      timings,
    );
  } catch (e) {
    const records = ledger.recordsOf(ids.run);
    // Not even the intent reached the ledger: the call was never made.
    if (records.length === 0) throw e;
    const state = reduceRun(records);
    // certificateId: the call succeeded but its "done" record could not be written.
    if (state.unclearCertificate === undefined && state.certificateId === undefined) {
      await ledger.append(entry(ids, { event: "abandoned", data: errorData(e) }));
      throw e;
    }
    // Certificates of other runs in this ledger may carry the same key (a re-provisioned device).
    const others = summarize(await readLedger(ledger.file)).runs.filter((r) => r.run !== ids.run);
    const known = new Set(others.flatMap((r) => (r.certificateId ? [r.certificateId] : [])));
    throw await rollbackAfterFailure(registry, ledger, state, e, known);
  }

  try {
    // 2. The certificate must carry the CSR's key, or it is useless and must not stay live.
    verifyIssuedCertificate(cert.certificatePem, spki, `certificate ${cert.certificateId}`);

    // 3. Thing, 4. policy, 5. attachments.
    // Looked up as its own step, so that only an unclear CreateThing (never an
    // unclear read) can make the rollback delete the thing.
    const existing = await step(
      ledger,
      ids,
      "register",
      "DescribeThing",
      { thingName: request.thingName },
      () => registry.describeThing(request.thingName),
      (t) => ({ exists: t !== undefined, thingArn: t?.thingArn }),
      timings,
    );
    const thing =
      existing !== undefined
        ? { thingName: existing.thingName, thingArn: existing.thingArn, created: false }
        : await step(
            ledger,
            ids,
            "register",
            "CreateThing",
            { attributes: request.attributes ?? {} },
            () => registry.createThing(request.thingName, request.attributes ?? {}, { lookedUp: true }),
            (t) => ({ thingArn: t.thingArn, created: t.created }),
            timings,
          );
    const document =
      typeof request.policyDocument === "string"
        ? request.policyDocument
        : request.policyDocument(arnParts(cert.certificateArn));
    const policy = await step(
      ledger,
      ids,
      "register",
      "EnsurePolicy",
      { policyName: request.policyName },
      () => registry.ensurePolicy(request.policyName, document),
      (p) => ({ policyArn: p.policyArn, created: p.created }),
      timings,
    );
    await step(
      ledger,
      ids,
      "register",
      "AttachPolicy",
      { policyName: request.policyName, certificateArn: cert.certificateArn },
      () => registry.attachPolicy(request.policyName, cert.certificateArn),
      () => ({}),
      timings,
    );
    const exclusive = request.exclusive ?? true;
    await step(
      ledger,
      ids,
      "register",
      "AttachThingPrincipal",
      { certificateArn: cert.certificateArn, exclusive },
      () => registry.attachThingPrincipal(request.thingName, cert.certificateArn, { exclusive }),
      () => ({}),
      timings,
    );
    await ledger.append(
      entry(ids, {
        event: "registered",
        data: {
          certificateId: cert.certificateId,
          certificateArn: cert.certificateArn,
          thingArn: thing.thingArn,
        },
      }),
    );
    return {
      run: ids.run,
      deviceId: request.deviceId,
      thingName: request.thingName,
      thingArn: thing.thingArn,
      thingCreated: thing.created,
      certificateId: cert.certificateId,
      certificateArn: cert.certificateArn,
      certificatePem: cert.certificatePem,
      policyName: policy.policyName,
      policyArn: policy.policyArn,
      policyCreated: policy.created,
      timingsMs: timings,
    };
  } catch (e) {
    throw await rollbackAfterFailure(registry, ledger, reduceRun(ledger.recordsOf(ids.run)), e);
  }
}

/**
 * Rolls back and returns the error to throw: the original one when the
 * rollback completed, ROLLBACK_INCOMPLETE (keeping the original as cause)
 * when it did not.
 */
async function rollbackAfterFailure(
  registry: CloudRegistry,
  ledger: Ledger,
  state: RunState,
  original: unknown,
  knownCertificateIds: ReadonlySet<string> = new Set(),
): Promise<ProvisionError> {
  const originalError = asProvisionError(original);
  try {
    await rollbackRun(registry, ledger, state, "rollback", knownCertificateIds);
    originalError.details.rolledBack = true;
    return originalError;
  } catch (e) {
    const rollbackError = asProvisionError(e);
    return new ProvisionError(
      "ROLLBACK_INCOMPLETE",
      `${originalError.message}; the rollback did not finish: ${rollbackError.message}`,
      {
        where: state.thing ? `thing ${state.thing}` : `run ${state.run}`,
        hint: `cloud resources of this run may remain; run \`provision cleanup --ledger ${ledger.file}\``,
        cause: original,
        details: {
          run: state.run,
          originalError: originalError.toJSON(),
          rollbackError: rollbackError.toJSON(),
          ledger: ledger.file,
        },
      },
    );
  }
}

/**
 * Removes what the run created, in AWS's order, recording every step; ends
 * with "rolled-back", or "rollback-failed" and a thrown error. Idempotent:
 * resources already gone count as removed. Used for failures during
 * registration, for a device that refused the credentials, and by cleanup.
 */
export async function rollbackRun(
  registry: CloudRegistry,
  ledger: Ledger,
  state: RunState,
  phase: LedgerPhase = "rollback",
  knownCertificateIds: ReadonlySet<string> = new Set(),
): Promise<void> {
  const ids: Ids = { run: state.run, device: state.device, thing: state.thing };
  try {
    const certificates: { certificateId: string; certificateArn: string }[] = [];
    if (state.certificateId && state.certificateArn) {
      certificates.push({ certificateId: state.certificateId, certificateArn: state.certificateArn });
    }
    if (state.unclearCertificate !== undefined) {
      const found = await step(
        ledger,
        ids,
        phase,
        "FindUnclearCertificates",
        { spkiSha256: state.unclearCertificate.spkiSha256, since: state.unclearCertificate.since },
        () =>
          findCertificatesForKey(
            registry,
            state.unclearCertificate?.spkiSha256 ?? "",
            state.unclearCertificate?.since ?? "",
            knownCertificateIds,
          ),
        (list) => ({ certificateIds: list.map((c) => c.certificateId) }),
      );
      certificates.push(...found);
    }
    for (const c of certificates) {
      await removeCertificate(registry, ledger, ids, phase, c, state);
    }
    if (state.thing && state.thingCreated !== false) {
      await step(
        ledger,
        ids,
        phase,
        "DeleteThing",
        { thingName: state.thing },
        () => registry.deleteThing(state.thing ?? ""),
        () => ({}),
      );
    }
    await ledger.append(
      entry(ids, {
        event: "rolled-back",
        phase,
        data: { certificates: certificates.map((c) => c.certificateId) },
      }),
    );
  } catch (e) {
    await ledger.append(entry(ids, { event: "rollback-failed", phase, data: errorData(e) }));
    throw e;
  }
}

/** Deactivate -> detach from every thing (waiting) -> detach every policy -> delete. */
async function removeCertificate(
  registry: CloudRegistry,
  ledger: Ledger,
  ids: Ids,
  phase: LedgerPhase,
  cert: { certificateId: string; certificateArn: string },
  state: RunState,
): Promise<void> {
  const { certificateId, certificateArn } = cert;
  // Gone already (a second cleanup, or deleted by hand): its attachments went with it.
  const exists = await step(
    ledger,
    ids,
    phase,
    "DescribeCertificate",
    { certificateId },
    () => registry.describeCertificate(certificateId),
    (d) => ({ exists: d !== undefined, status: d?.status }),
  );
  if (exists === undefined) return;
  // Only an ACTIVE one needs it: a REVOKED certificate cannot change status (CertificateStateException).
  if (exists.status === "ACTIVE") {
    await step(
      ledger,
      ids,
      phase,
      "UpdateCertificate",
      { certificateId, newStatus: "INACTIVE" },
      () => registry.deactivateCertificate(certificateId),
      () => ({}),
    );
  }
  // The ledger knows what this run attached; the listing also catches attachments whose answer was lost.
  const things = new Set(await registry.listPrincipalThings(certificateArn));
  if (state.thingAttachAttempted && state.thing && certificateId === state.certificateId)
    things.add(state.thing);
  for (const thingName of things) {
    await step(
      ledger,
      ids,
      phase,
      "DetachThingPrincipal",
      { thingName, certificateArn },
      () => registry.detachThingPrincipal(thingName, certificateArn),
      () => ({}),
    );
  }
  const policies = new Set(await registry.listAttachedPolicies(certificateArn));
  if (state.policyAttachAttempted && certificateId === state.certificateId)
    policies.add(state.policyAttachAttempted);
  for (const policyName of policies) {
    await step(
      ledger,
      ids,
      phase,
      "DetachPolicy",
      { policyName, certificateArn },
      () => registry.detachPolicy(policyName, certificateArn),
      () => ({}),
    );
  }
  await step(
    ledger,
    ids,
    phase,
    "DeleteCertificate",
    { certificateId },
    () => registry.deleteCertificate(certificateId),
    () => ({}),
  );
}

/**
 * Certificates issued for a key since a time, other than ones the ledger
 * already accounts for. Limited by what ListCertificates shows: the newest
 * UNCLEAR_SEARCH_MAX_CERTIFICATES of the account, one DescribeCertificate
 * each for those created in the window.
 */
export async function findCertificatesForKey(
  registry: CloudRegistry,
  spkiSha256: string,
  sinceIso: string,
  knownCertificateIds: ReadonlySet<string> = new Set(),
): Promise<{ certificateId: string; certificateArn: string }[]> {
  const since = Date.parse(sinceIso) - UNCLEAR_SEARCH_SLACK_MS;
  const listed = await registry.listCertificates({ maxItems: UNCLEAR_SEARCH_MAX_CERTIFICATES });
  const out: { certificateId: string; certificateArn: string }[] = [];
  for (const c of listed) {
    if (knownCertificateIds.has(c.certificateId)) continue;
    if (c.creationDate !== undefined && c.creationDate.getTime() < since) continue;
    const d = await registry.describeCertificate(c.certificateId);
    if (d === undefined || d.certificatePem === "") continue;
    if (certificateSpkiSha256(d.certificatePem) === spkiSha256) {
      out.push({ certificateId: c.certificateId, certificateArn: c.certificateArn || d.certificateArn });
    }
  }
  return out;
}

/** Rolls back a completed registration (e.g. the device refused the credentials at COMMIT). */
export async function rollbackRegistration(
  registry: CloudRegistry,
  ledger: Ledger,
  registration: Registration,
): Promise<void> {
  const records = ledger.recordsOf(registration.run);
  const state: RunState =
    records.length > 0
      ? reduceRun(records)
      : {
          run: registration.run,
          device: registration.deviceId,
          thing: registration.thingName,
          startedAt: new Date().toISOString(),
          lastAt: new Date().toISOString(),
          status: "registered",
          open: false,
          certificateId: registration.certificateId,
          certificateArn: registration.certificateArn,
          thingCreated: registration.thingCreated,
          thingAttachAttempted: true,
          policyAttachAttempted: registration.policyName,
          pendingOps: [],
          foundCertificates: [],
        };
  try {
    await rollbackRun(registry, ledger, state, "rollback");
  } catch (e) {
    throw new ProvisionError(
      "ROLLBACK_INCOMPLETE",
      `rolling back thing ${registration.thingName} did not finish: ${asProvisionError(e).message}`,
      {
        where: `thing ${registration.thingName}`,
        hint: `run \`provision cleanup --ledger ${ledger.file}\``,
        cause: e,
      },
    );
  }
}

export interface RunMarker {
  run: string;
  deviceId?: string;
  thingName?: string;
}

function markerIds(m: RunMarker): Ids {
  return { run: m.run, device: m.deviceId, thing: m.thingName };
}

/** The device accepted the credentials (COMMIT answered). */
export async function recordCommitted(
  ledger: Ledger,
  m: RunMarker,
  data: Record<string, unknown> = {},
): Promise<void> {
  await ledger.append(entry(markerIds(m), { event: "committed", data }));
}

/** The observer saw the device's first publish. */
export async function recordFirstPublish(
  ledger: Ledger,
  m: RunMarker,
  data: Record<string, unknown> = {},
): Promise<void> {
  await ledger.append(entry(markerIds(m), { event: "first-publish", data }));
}

export interface CleanupReport {
  ledger: string;
  runsExamined: number;
  /** Runs whose resources were removed now. */
  cleaned: { run: string; device?: string; thing?: string; certificates: string[] }[];
  /** Runs that still could not be cleaned. */
  failed: { run: string; device?: string; thing?: string; error: Record<string, unknown> }[];
  /** Registered but never committed to a device: left alone unless includeUncommitted. */
  uncommitted: { run: string; device?: string; thing?: string; certificateId?: string }[];
}

/** Runs whose cloud resources are in use (and so kept by cleanup unless targeted). */
const HOLDING_STATUSES: ReadonlySet<RunState["status"]> = new Set(["registered", "committed", "verified"]);

export interface CleanupOptions {
  /** Also roll back runs that registered but never reached the device. */
  includeUncommitted?: boolean;
}

/**
 * Finishes every open run of the ledger (interrupted registrations, failed
 * rollbacks, unclear certificate creations), appending to the same ledger.
 * Idempotent: a second run finds nothing open. Do not run it on a ledger a
 * station is still writing: its runs in progress look interrupted.
 */
export async function cleanupFromLedger(
  registry: CloudRegistry,
  ledgerFile: string,
  options: CleanupOptions = {},
): Promise<CleanupReport> {
  const summary = summarize(await readLedger(ledgerFile));
  // Certificates that belong to runs which are not being cleaned must never be matched by a key search.
  const report: CleanupReport = {
    ledger: ledgerFile,
    runsExamined: summary.runs.length,
    cleaned: [],
    failed: [],
    uncommitted: [],
  };
  const targets = summary.runs.filter(
    (r) => r.open || (options.includeUncommitted === true && r.status === "registered"),
  );
  for (const r of summary.runs) {
    if (r.status === "registered" && options.includeUncommitted !== true) {
      report.uncommitted.push({
        run: r.run,
        device: r.device,
        thing: r.thing,
        certificateId: r.certificateId,
      });
    }
  }
  const keep = new Set(
    summary.runs.filter((r) => !targets.includes(r) && r.certificateId).map((r) => r.certificateId as string),
  );
  // A thing an interrupted run created may since have been taken over by a later run that
  // finished (a re-run without cleanup in between): it is that run's now and must stay.
  const heldThings = new Set(
    summary.runs
      .filter((r) => !targets.includes(r) && HOLDING_STATUSES.has(r.status) && r.thing !== undefined)
      .map((r) => r.thing as string),
  );
  const ledger = await Ledger.open(ledgerFile);
  try {
    for (const target of targets) {
      const run: RunState =
        target.thing !== undefined && heldThings.has(target.thing)
          ? { ...target, thingCreated: false }
          : target;
      try {
        await rollbackRun(registry, ledger, run, "cleanup", keep);
        const after = reduceRun(ledger.recordsOf(run.run));
        report.cleaned.push({
          run: run.run,
          device: run.device,
          thing: run.thing,
          certificates: [...(run.certificateId ? [run.certificateId] : []), ...after.foundCertificates],
        });
      } catch (e) {
        report.failed.push({
          run: run.run,
          device: run.device,
          thing: run.thing,
          error: asProvisionError(e).toJSON(),
        });
      }
    }
  } finally {
    await ledger.close();
  }
  return report;
}

/** Per-device summary of a ledger file, for the station's resume and `provision status`. */
export async function ledgerState(ledgerFile: string) {
  return summarize(await readLedger(ledgerFile));
}
