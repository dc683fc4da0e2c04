/**
 * Registration of one device in the cloud, step by step, with a ledger
 * record before and after every call, and a rollback in AWS's required order
 * (rollback.ts) when anything fails after the certificate exists:
 *
 *   CreateCertificateFromCsr(setAsActive) -> check the certificate's key ->
 *   CreateThing -> ensure policy -> AttachPolicy -> AttachThingPrincipal
 *
 * A certificate already issued for the same key (prior-runs.ts) is adopted
 * instead of created: the same CSR submitted twice gets two certificates.
 */
import { createHash } from "node:crypto";
import { csrPublicKeySpki, spkiDigestHex, verifyIssuedCertificate } from "../csr/index.js";
import { asProvisionError, ProvisionError } from "../errors.js";
import { arnParts, type CloudRegistry, type IssuedCertificate } from "../registry/registry.js";
import { type Ledger, readLedger } from "./ledger.js";
import { newRunId } from "./records.js";
import { rollbackRun } from "./rollback.js";
import { type LedgerSummary, type RunState, reduceRun, summarize } from "./state.js";
import { entry, errorData, type Ids, step, stopIfInterrupted } from "./steps.js";

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
  /** A live certificate already issued for this key: taken over instead of creating a second one. */
  adopt?: Adoption;
  /** The thing as DescribeThing answered just before (thingArn undefined: it did not exist). */
  thingRead?: { thingArn?: string };
  /** Checked between cloud calls: an interruption rolls back what was registered so far. */
  signal?: AbortSignal;
}

/** A certificate issued earlier for the same key, which this run takes over (prior-runs.ts). */
export interface Adoption {
  certificateId: string;
  certificateArn: string;
  certificatePem: string;
  /** The ledger run that registered it; absent when it was found in the cloud. */
  fromRun?: string;
  /** The earlier run created the thing: a rollback of this run removes it. */
  thingCreated: boolean;
}

/** SHA-256 (hex) of a certificate PEM as the device reports it (STATUS, COMMIT). */
export function certificatePemSha256(pem: string): string {
  return createHash("sha256").update(pem).digest("hex");
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
  /** The certificate was taken over from an earlier run (or the cloud), not created. */
  adopted?: boolean;
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

  // 1. Certificate: the one issued earlier for this key, or a new one. An unclear failure may still have
  // issued one.
  stopIfInterrupted(request.signal);
  const since = new Date().toISOString();
  let cert: IssuedCertificate;
  try {
    cert = request.adopt
      ? await adopt(ledger, ids, request.adopt, spkiSha256)
      : await step(
          ledger,
          ids,
          "register",
          "CreateCertificateFromCsr",
          { spkiSha256, csrSha256, since },
          () => registry.createCertificateFromCsr(request.csrPem, true),
          (c) => ({
            certificateId: c.certificateId,
            certificateArn: c.certificateArn,
            certSha256: certificatePemSha256(c.certificatePem),
          }),
          timings,
        );
  } catch (e) {
    if (request.adopt) throw e;
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
    const others = (await ledger.summary()).runs.filter((r) => r.run !== ids.run);
    const known = new Set(others.flatMap((r) => (r.certificateId ? [r.certificateId] : [])));
    throw await rollbackAfterFailure(registry, ledger, state, e, known);
  }

  try {
    // 2. The certificate must carry the CSR's key, or it is useless and must not stay live.
    verifyIssuedCertificate(cert.certificatePem, spki, `certificate ${cert.certificateId}`);
    stopIfInterrupted(request.signal);

    // 3. Thing, 4. policy, 5. attachments.
    // Looked up as its own step, so that only an unclear CreateThing (never an
    // unclear read) can make the rollback delete the thing.
    // A caller that read the thing just before (its certificates: prior-runs.ts) passes what it saw, which
    // saves a second DescribeThing per device; one created meanwhile is met by CreateThing's conflict rule.
    const existing =
      request.thingRead !== undefined
        ? request.thingRead.thingArn === undefined
          ? undefined
          : { thingName: request.thingName, thingArn: request.thingRead.thingArn }
        : await step(
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
    stopIfInterrupted(request.signal);
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
    stopIfInterrupted(request.signal);
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
      ...(request.adopt ? { adopted: true } : {}),
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

/** The flash before a provisioning (records.ts "flashed"): a closed run of its own, for the audit trail. */
export async function recordFlash(
  ledger: Ledger,
  deviceId: string,
  data: Record<string, unknown>,
): Promise<void> {
  await ledger.append(entry({ run: newRunId(), device: deviceId }, { event: "flashed", data }));
}

/** Per-device summary of a ledger file (read only: for reports and tests; writers use Ledger.summary). */
export async function ledgerState(ledgerFile: string): Promise<LedgerSummary> {
  return summarize(await readLedger(ledgerFile));
}

/** One record makes the run the certificate's owner (state.ts closes the run it came from). */
async function adopt(ledger: Ledger, ids: Ids, a: Adoption, spkiSha256: string): Promise<IssuedCertificate> {
  await ledger.append(
    entry(ids, {
      event: "adopted",
      data: {
        certificateId: a.certificateId,
        certificateArn: a.certificateArn,
        certSha256: certificatePemSha256(a.certificatePem),
        spkiSha256,
        thingCreated: a.thingCreated,
        ...(a.fromRun ? { fromRun: a.fromRun } : { source: "cloud" }),
      },
    }),
  );
  return {
    certificateId: a.certificateId,
    certificateArn: a.certificateArn,
    certificatePem: a.certificatePem,
  };
}
