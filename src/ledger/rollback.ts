/**
 * Taking a run's cloud resources down again, in AWS's required order, with a
 * ledger record around every call:
 *
 *   UpdateCertificate INACTIVE -> DetachThingPrincipal (poll until gone) ->
 *   DetachPolicy -> DeleteCertificate -> DeleteThing if the run created it
 *
 * Retiring a superseded certificate is the same sequence without the
 * deletes: the certificate stays, INACTIVE and attached to nothing, for an
 * operator who wants it back. Policies are shared by many devices and never
 * deleted.
 */
import { certificateSpkiSha256 } from "../csr/index.js";
import { asProvisionError, ProvisionError } from "../errors.js";
import { asUndo } from "../registry/rate-limits.js";
import type { CloudRegistry } from "../registry/registry.js";
import type { Ledger } from "./ledger.js";
import { type LedgerPhase, newRunId } from "./records.js";
import { type RunState, reduceRun } from "./state.js";
import { entry, errorData, type Ids, step } from "./steps.js";

/** Certificates created up to this long before the unclear call are still candidates (clock skew). */
export const UNCLEAR_SEARCH_SLACK_MS = 120_000;
/** How many certificates an unclear-create search lists at most (newest first). */
export const UNCLEAR_SEARCH_MAX_CERTIFICATES = 2000;

export interface CertificateRef {
  certificateId: string;
  certificateArn: string;
}

/**
 * Removes what the run created, in AWS's order, recording every step; ends
 * with "rolled-back", or "rollback-failed" and a thrown error. Idempotent:
 * resources already gone count as removed. Used for failures during
 * registration, for a device that refused the credentials, and by cleanup.
 */
async function rollbackRunNow(
  registry: CloudRegistry,
  ledger: Ledger,
  state: RunState,
  phase: LedgerPhase = "rollback",
  knownCertificateIds: ReadonlySet<string> = new Set(),
): Promise<void> {
  const ids: Ids = { run: state.run, device: state.device, thing: state.thing };
  try {
    const certificates: CertificateRef[] = [];
    if (state.certificateId && state.certificateArn) {
      certificates.push({ certificateId: state.certificateId, certificateArn: state.certificateArn });
    }
    if (state.unclearCertificate !== undefined) {
      const unclear = state.unclearCertificate;
      const found = await step(
        ledger,
        ids,
        phase,
        "FindUnclearCertificates",
        { spkiSha256: unclear.spkiSha256, since: unclear.since },
        () => findCertificatesForKey(registry, unclear.spkiSha256, unclear.since, knownCertificateIds),
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

/**
 * Deactivate -> detach from every thing (waiting) -> detach every policy ->
 * delete (unless `keep`: a retired certificate stays, INACTIVE and detached).
 */
async function removeCertificate(
  registry: CloudRegistry,
  ledger: Ledger,
  ids: Ids,
  phase: LedgerPhase,
  cert: CertificateRef,
  state: Pick<RunState, "certificateId" | "thing" | "thingAttachAttempted" | "policyAttachAttempted">,
  options: { keep?: boolean } = {},
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
  // One recorded step per call that answers nothing worth keeping.
  const plainStep = (op: string, data: Record<string, unknown>, fn: () => Promise<void>) =>
    step(ledger, ids, phase, op, data, fn, () => ({}));
  for (const thingName of things)
    await plainStep("DetachThingPrincipal", { thingName, certificateArn }, () =>
      registry.detachThingPrincipal(thingName, certificateArn),
    );
  const policies = new Set(await registry.listAttachedPolicies(certificateArn));
  if (state.policyAttachAttempted && certificateId === state.certificateId)
    policies.add(state.policyAttachAttempted);
  for (const policyName of policies)
    await plainStep("DetachPolicy", { policyName, certificateArn }, () =>
      registry.detachPolicy(policyName, certificateArn),
    );
  if (options.keep) return;
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
 * Retires the run's certificate after its device committed a newer one:
 * INACTIVE, detached from things and policies, kept; the run ends "retired".
 * Idempotent, so an interrupted retirement is simply done again.
 */
async function retireRunCertificateNow(
  registry: CloudRegistry,
  ledger: Ledger,
  state: RunState,
  data: Record<string, unknown> = {},
): Promise<void> {
  const ids: Ids = { run: state.run, device: state.device, thing: state.thing };
  if (state.certificateId && state.certificateArn) {
    const cert = { certificateId: state.certificateId, certificateArn: state.certificateArn };
    await removeCertificate(registry, ledger, ids, "retire", cert, state, { keep: true });
  }
  await ledger.append(entry(ids, { event: "retired", phase: "retire", data }));
}

/**
 * Takes down a certificate no run of the ledger accounts for (found in the
 * cloud for a key whose ledger was lost), as a run of its own that first
 * adopts it, so that an interrupted removal stays open in the ledger.
 */
async function removeForeignCertificateNow(
  registry: CloudRegistry,
  ledger: Ledger,
  who: { device?: string; thing?: string },
  cert: CertificateRef & { spkiSha256: string },
): Promise<void> {
  const ids: Ids = { run: newRunId(), ...who };
  await ledger.append(entry(ids, { event: "adopted", data: { ...cert, source: "cloud" } }));
  const state = reduceRun(ledger.recordsOf(ids.run));
  try {
    await removeCertificate(registry, ledger, ids, "cleanup", cert, state);
    await ledger.append(
      entry(ids, { event: "rolled-back", phase: "cleanup", data: { certificates: [cert.certificateId] } }),
    );
  } catch (e) {
    await ledger.append(entry(ids, { event: "rollback-failed", phase: "cleanup", data: errorData(e) }));
    throw e;
  }
}

/**
 * Rollback, retirement and cleanup never wait on a shared rate store: their
 * calls take turns in this process (asUndo, src/registry/rate-limits.ts), so
 * a Redis that went away cannot leave a certificate ACTIVE and unattached.
 */
export const rollbackRun: typeof rollbackRunNow = (...args) => asUndo(() => rollbackRunNow(...args));
export const retireRunCertificate: typeof retireRunCertificateNow = (...args) =>
  asUndo(() => retireRunCertificateNow(...args));
export const removeForeignCertificate: typeof removeForeignCertificateNow = (...args) =>
  asUndo(() => removeForeignCertificateNow(...args));

/**
 * Certificates issued for a key since a time, other than ones the ledger
 * already accounts for. Limited by what ListCertificates shows: the newest
 * UNCLEAR_SEARCH_MAX_CERTIFICATES of the account, one DescribeCertificate
 * each for those created in the window (`activeOnly`: only ACTIVE ones).
 */
export async function findCertificatesForKey(
  registry: CloudRegistry,
  spkiSha256: string,
  sinceIso: string,
  knownCertificateIds: ReadonlySet<string> = new Set(),
  options: { activeOnly?: boolean } = {},
): Promise<CertificateRef[]> {
  const since = Date.parse(sinceIso) - UNCLEAR_SEARCH_SLACK_MS;
  const listed = await registry.listCertificates({ maxItems: UNCLEAR_SEARCH_MAX_CERTIFICATES });
  const out: CertificateRef[] = [];
  for (const c of listed) {
    if (knownCertificateIds.has(c.certificateId)) continue;
    if (options.activeOnly && c.status !== "ACTIVE") continue;
    if (c.creationDate !== undefined && c.creationDate.getTime() < since) continue;
    const d = await registry.describeCertificate(c.certificateId);
    if (d === undefined || d.certificatePem === "") continue;
    if (certificateSpkiSha256(d.certificatePem) === spkiSha256) {
      out.push({ certificateId: c.certificateId, certificateArn: c.certificateArn || d.certificateArn });
    }
  }
  return out;
}

/**
 * What a rollback of a completed registration needs to know when this
 * process's records of the run are gone (a Registration has every field).
 */
export interface RegisteredRun {
  run: string;
  deviceId?: string;
  thingName: string;
  thingCreated: boolean;
  certificateId: string;
  certificateArn: string;
  policyName: string;
}

/** Rolls back a completed registration (e.g. the device refused the credentials at COMMIT). */
export async function rollbackRegistration(
  registry: CloudRegistry,
  ledger: Ledger,
  registration: RegisteredRun,
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
