/**
 * One certificate per device key, whatever earlier runs left behind. The
 * same CSR submitted twice gets two certificates, so before registering a
 * run looks at what exists for the key, ledger first:
 *
 * - open runs of the key or the device (killed mid-registration): rolled back;
 * - a run holding a live certificate of the key (killed after registering,
 *   before the device committed): its certificate is adopted, not minted again;
 * - the ledger has never seen a key the device already had (lost or foreign
 *   ledger): the cloud is asked (the thing's certificates, and with a new
 *   ledger the newest certificates of the account).
 *
 * And once the device says which certificate it holds (STATUS), the ledger
 * is told (a kill right after COMMIT), and the device's other certificates
 * are retired.
 */
import { certificateSpkiSha256, spkiDigestHex } from "../csr/index.js";
import { ProvisionError } from "../errors.js";
import type { CloudRegistry } from "../registry/registry.js";
import { rollbackRuns } from "./cleanup.js";
import type { Ledger } from "./ledger.js";
import { type Adoption, certificatePemSha256, recordCommitted } from "./register.js";
import { findCertificatesForKey, removeForeignCertificate, retireRunCertificate } from "./rollback.js";
import { HOLDING, type LedgerSummary, type RunState } from "./state.js";

/** How far back a search for a lost ledger's certificates looks. */
export const LOST_LEDGER_SEARCH_WINDOW_MS = 7 * 24 * 3600 * 1000;

export interface PriorRunsRequest {
  deviceId: string;
  thingName: string;
  /** The CSR's key (SPKI DER). */
  publicKeySpki: Uint8Array;
  /** The device made the key just now: no certificate can exist for it. */
  keyCreatedNow: boolean;
  /** What was settled, for the progress view. */
  onInfo?: (text: string) => void;
}

export interface PriorSettlement {
  /** The certificate to take over instead of creating one. */
  adopt?: Adoption;
  /** Runs rolled back or retired now. */
  settledRuns: string[];
  /** Certificates of the key found in the cloud and removed (no run of the ledger knew them). */
  removedFromCloud: string[];
}

const short = (id: string) => `${id.slice(0, 12)}…`;

/**
 * Open runs of a device never reached it (a run writes "registered" before
 * any credentials go out): rolled back, or the job stops before minting.
 */
async function rollBackOpen(
  registry: CloudRegistry,
  ledger: Ledger,
  summary: LedgerSummary,
  open: RunState[],
  req: { deviceId: string; onInfo?: (text: string) => void },
): Promise<string[]> {
  req.onInfo?.(`rolling back ${open.length} interrupted run(s) of device ${req.deviceId} first`);
  const done: string[] = [];
  for (const r of await rollbackRuns(registry, ledger, summary, open)) {
    if (r.error !== undefined) {
      throw new ProvisionError(
        "ROLLBACK_INCOMPLETE",
        "an interrupted run of this device cannot be rolled back",
        {
          where: `run ${r.run.run}`,
          hint: `run \`provision cleanup --ledger ${ledger.file}\`, then provision the device again`,
          cause: r.error,
        },
      );
    }
    done.push(r.run.run);
  }
  return done;
}

export async function settlePriorRuns(
  registry: CloudRegistry,
  ledger: Ledger,
  req: PriorRunsRequest,
): Promise<PriorSettlement> {
  const spkiSha256 = spkiDigestHex(req.publicKeySpki);
  const sameKey = (r: RunState) => r.spkiSha256 === spkiSha256;
  const out: PriorSettlement = { settledRuns: [], removedFromCloud: [] };
  let summary = await ledger.summary();

  const open = summary.runs.filter((r) => r.open && (sameKey(r) || r.device === req.deviceId));
  if (open.length > 0) {
    out.settledRuns.push(...(await rollBackOpen(registry, ledger, summary, open, req)));
    summary = await ledger.summary();
  }

  // Newest first: the last run that registered this key is the one a device would have been given.
  const holders = summary.runs
    .filter((r) => HOLDING.has(r.status) && sameKey(r) && r.certificateId)
    .reverse();
  for (const r of holders) {
    const id = r.certificateId as string;
    if (out.adopt === undefined && r.thing === req.thingName && r.certificateArn) {
      const d = await registry.describeCertificate(id);
      if (d?.status === "ACTIVE" && certificateSpkiSha256(d.certificatePem) === spkiSha256) {
        out.adopt = {
          certificateId: id,
          certificateArn: r.certificateArn,
          certificatePem: d.certificatePem,
          fromRun: r.run,
          thingCreated: r.thingCreated === true,
        };
        req.onInfo?.(`certificate ${short(id)} was issued for this key by an earlier run: adopting it`);
        continue;
      }
    }
    // Gone, no longer ACTIVE, for another thing, or a second one for the key: it can only be retired.
    req.onInfo?.(`retiring certificate ${short(id)} of an earlier run for this key`);
    await retireRunCertificate(registry, ledger, r, { reason: "superseded for the same key" });
    out.settledRuns.push(r.run);
  }
  if (out.adopt !== undefined || req.keyCreatedNow || summary.runs.some(sameKey)) return out;

  await settleFromCloud(registry, ledger, req, spkiSha256, out);
  return out;
}

/** The ledger never saw this key, but the device had it before this run: ask the cloud. */
async function settleFromCloud(
  registry: CloudRegistry,
  ledger: Ledger,
  req: PriorRunsRequest,
  spkiSha256: string,
  out: PriorSettlement,
): Promise<void> {
  const found: { certificateId: string; certificateArn: string; active: boolean; pem: string }[] = [];
  for (const arn of await registry.listThingPrincipals(req.thingName)) {
    const id = arn.slice(arn.lastIndexOf("/") + 1);
    const d = await registry.describeCertificate(id);
    if (d && d.certificatePem !== "" && certificateSpkiSha256(d.certificatePem) === spkiSha256)
      found.push({
        certificateId: id,
        certificateArn: arn,
        active: d.status === "ACTIVE",
        pem: d.certificatePem,
      });
  }
  // A new ledger (lost, or never kept): a certificate created but never attached is only found by a scan.
  if (!ledger.hadRecords) {
    const since = new Date(Date.now() - LOST_LEDGER_SEARCH_WINDOW_MS).toISOString();
    const known = new Set(found.map((c) => c.certificateId));
    for (const c of await findCertificatesForKey(registry, spkiSha256, since, known, { activeOnly: true })) {
      const d = await registry.describeCertificate(c.certificateId);
      if (d) found.push({ ...c, active: d.status === "ACTIVE", pem: d.certificatePem });
    }
  }
  // The thing's own certificates were listed first: one already attached is preferred.
  const keeper = found.find((c) => c.active);
  for (const c of found) {
    if (c === keeper) continue;
    req.onInfo?.(`removing certificate ${short(c.certificateId)} of this key found in the cloud`);
    await removeForeignCertificate(
      registry,
      ledger,
      { device: req.deviceId, thing: req.thingName },
      {
        certificateId: c.certificateId,
        certificateArn: c.certificateArn,
        spkiSha256,
      },
    );
    out.removedFromCloud.push(c.certificateId);
  }
  if (keeper) {
    req.onInfo?.(`certificate ${short(keeper.certificateId)} for this key found in the cloud: adopting it`);
    out.adopt = {
      certificateId: keeper.certificateId,
      certificateArn: keeper.certificateArn,
      certificatePem: keeper.pem,
      thingCreated: false,
    };
  }
}

export interface DeviceHolds {
  /** The run whose certificate the device holds, and that certificate. */
  run?: RunState;
  certificateId?: string;
  /** The run had no COMMIT recorded (a kill right after it): recorded now. */
  reconciled: boolean;
}

/**
 * The device reports the digest of the certificate it committed (STATUS):
 * finds the run that registered it and, if that run's COMMIT was never
 * recorded, records it now, so neither cleanup nor a later run undoes it.
 */
export async function settleDeviceHolds(
  registry: CloudRegistry,
  ledger: Ledger,
  device: { deviceId: string; thingName?: string; certSha256?: string; onInfo?: (text: string) => void },
): Promise<DeviceHolds> {
  let summary = await ledger.summary();
  // A rotation killed mid-registration left its new certificate behind; the device kept its old set.
  const open = summary.runs.filter((r) => r.open && r.device === device.deviceId);
  if (open.length > 0) {
    await rollBackOpen(registry, ledger, summary, open, device);
    summary = await ledger.summary();
  }
  if (device.certSha256 === undefined) return { reconciled: false };
  const candidates = summary.runs
    .filter((r) => r.device === device.deviceId && r.certificateId && HOLDING.has(r.status))
    .reverse();
  for (const r of candidates) {
    let digest = r.certSha256;
    if (digest === undefined) {
      const d = await registry.describeCertificate(r.certificateId as string);
      digest = d ? certificatePemSha256(d.certificatePem) : undefined;
    }
    if (digest !== device.certSha256) continue;
    const reconciled = r.status === "registered";
    if (reconciled) {
      await recordCommitted(
        ledger,
        { run: r.run, deviceId: device.deviceId, thingName: r.thing ?? device.thingName },
        { certificateId: r.certificateId, reconciled: true },
      );
    }
    return { run: r, certificateId: r.certificateId, reconciled };
  }
  return { reconciled: false };
}

async function supersededRunsOf(ledger: Ledger, deviceId: string, current: string): Promise<RunState[]> {
  const summary = await ledger.summary();
  return summary.runs.filter(
    (r) => r.device === deviceId && HOLDING.has(r.status) && r.certificateId && r.certificateId !== current,
  );
}

/** Live certificates of the device's runs other than `current`. */
export async function supersededCertificates(
  ledger: Ledger,
  deviceId: string,
  current: string,
): Promise<string[]> {
  return (await supersededRunsOf(ledger, deviceId, current)).map((r) => r.certificateId as string);
}

/**
 * The device holds `current` (seen publishing with it): every other live
 * certificate its runs registered is retired (INACTIVE, detached, kept).
 * Finishes a rotation whose deactivation was interrupted.
 */
export async function retireSuperseded(
  registry: CloudRegistry,
  ledger: Ledger,
  deviceId: string,
  current: string,
): Promise<string[]> {
  const retired: string[] = [];
  for (const r of await supersededRunsOf(ledger, deviceId, current)) {
    await retireRunCertificate(registry, ledger, r, { supersededBy: current });
    retired.push(r.certificateId as string);
  }
  return retired;
}
