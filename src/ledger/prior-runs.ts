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
 * The cloud's word on the thing is read too (thing-certificates.ts): the
 * ledger may never have seen what it holds. A key another device already
 * presented (in the ledger, or on another thing in the cloud) is refused
 * before any of this: settling it would undo the other device's runs. And once the device says which
 * certificate it holds (STATUS), the ledger is told (a kill right after
 * COMMIT); retirement.ts retires the device's other certificates.
 */
import { certificateSpkiSha256, spkiDigestHex } from "../csr/index.js";
import { ProvisionError } from "../errors.js";
import type { CloudRegistry } from "../registry/registry.js";
import { rollbackRuns } from "./cleanup.js";
import type { Ledger } from "./ledger.js";
import { type Adoption, certificatePemSha256, recordCommitted } from "./register.js";
import { findCertificatesForKey, removeForeignCertificate, retireRunCertificate } from "./rollback.js";
import { HOLDING, type LedgerSummary, type RunState } from "./state.js";
import {
  describeUnknown,
  type RetireConsent,
  readThing,
  recordFound,
  sortCertificates,
  type ThingCertificate,
} from "./thing-certificates.js";

/** How far back a search for a lost ledger's certificates looks. */
export const LOST_LEDGER_SEARCH_WINDOW_MS = 7 * 24 * 3600 * 1000;

export interface PriorRunsRequest {
  deviceId: string;
  thingName: string;
  /** The CSR's key (SPKI DER). */
  publicKeySpki: Uint8Array;
  /** The device made the key just now: no certificate can exist for it. */
  keyCreatedNow: boolean;
  /** The operator's consent to retire ACTIVE certificates of the thing no run of this ledger made. */
  consent?: RetireConsent;
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
  /** The thing held certificates before this registration (then the check after the first publish is owed). */
  thingHadCertificates?: boolean;
  /** The thing as read here (thingArn undefined: it does not exist), for the registration. */
  thingRead?: { thingArn?: string };
}

const short = (id: string) => `${id.slice(0, 12)}…`;

/**
 * Two devices with one key: their random generators are not independent
 * (an emulator seeded alike, a chip without entropy) or one key store was
 * copied from the other. Neither device can be told apart by its
 * certificate, so neither is registered again and nothing of the other's
 * is touched.
 */
function sharedKey(
  req: { deviceId: string },
  holder: string,
  details: Record<string, unknown>,
): ProvisionError {
  return new ProvisionError(
    "CSR_REJECTED",
    `the CSR's key is already the key of ${holder}: a device key must be made on its device and never copied`,
    {
      where: `device ${req.deviceId}`,
      hint:
        "the two devices' random generators are not independent, or one's key store was copied from the other's: " +
        "nothing was registered; check the device's entropy source and flash image, erase its key store, and provision it again",
      details,
    },
  );
}

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
  const other = summary.runs.find((r) => sameKey(r) && r.device !== undefined && r.device !== req.deviceId);
  if (other)
    throw sharedKey(req, `device ${other.device}`, { otherDevice: other.device, otherRun: other.run });

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
  // The cloud's word on the thing, whatever the ledger knows (thing-certificates.ts).
  const view = await readThing(registry, req.thingName);
  out.thingHadCertificates = view.certificates.length > 0;
  out.thingRead = view.thingArn === undefined ? {} : { thingArn: view.thingArn };
  const sorted = sortCertificates(view, await ledger.summary(), {
    current: out.adopt?.certificateId,
    spkiSha256,
  });
  // A lost or new ledger: a certificate created for the key but never attached is only found by a scan.
  const scanLoose =
    out.adopt === undefined && !req.keyCreatedNow && !summary.runs.some(sameKey) && !ledger.hadRecords;
  await settleDeviceKey(registry, ledger, req, { spkiSha256, certs: sorted.deviceKey, scanLoose }, out);
  await takeUnknown(ledger, req, sorted.unknown);
  return out;
}

/**
 * ACTIVE certificates of another key on the thing that no run of this
 * ledger made: with consent, taken into the ledger to retire once the new
 * one publishes; without, the registration stops here, nothing created.
 */
async function takeUnknown(
  ledger: Ledger,
  req: PriorRunsRequest,
  unknown: ThingCertificate[],
): Promise<void> {
  if (unknown.length === 0) return;
  if (req.consent === undefined) {
    const first = unknown[0] as ThingCertificate;
    throw new ProvisionError(
      "DEVICE_MISMATCH",
      `${describeUnknown(first, req.thingName)}${unknown.length > 1 ? `, and ${unknown.length - 1} more` : ""}: not registering a second one beside it`,
      {
        where: `thing ${req.thingName}`,
        hint:
          "re-provisioning this device (erased flash, a rework bench, another station's ledger)? run again with --force or " +
          "--retire-unknown-certificates: the old certificate is retired once the new one publishes; if another device " +
          "owns this thing, give this one another --thing-name (`provision cleanup --thing NAME` lists what a thing holds)",
        details: { thing: req.thingName, unknownCertificates: unknown.map((c) => c.certificateId) },
      },
    );
  }
  for (const c of unknown) {
    await recordFound(ledger, req, c, {
      consent: req.consent,
      reason: "ACTIVE on the device's thing before it was registered again; made outside this ledger",
    });
    req.onInfo?.(
      `${describeUnknown(c, req.thingName)}: it is retired once the new one publishes (${req.consent} given)`,
    );
  }
}

/**
 * Certificates of the device's current key that no live run knows (a lost
 * or foreign ledger): one already on the thing and ACTIVE is adopted when
 * nothing was; every other one is removed as a run of its own.
 */
async function settleDeviceKey(
  registry: CloudRegistry,
  ledger: Ledger,
  req: PriorRunsRequest,
  key: { spkiSha256: string; certs: ThingCertificate[]; scanLoose: boolean },
  out: PriorSettlement,
): Promise<void> {
  const found: { certificateId: string; certificateArn: string; active: boolean }[] = key.certs.map((c) => ({
    certificateId: c.certificateId,
    certificateArn: c.certificateArn,
    active: c.status === "ACTIVE",
  }));
  if (key.scanLoose) {
    const since = new Date(Date.now() - LOST_LEDGER_SEARCH_WINDOW_MS).toISOString();
    const known = new Set(found.map((c) => c.certificateId));
    const loose = await findCertificatesForKey(registry, key.spkiSha256, since, known, { activeOnly: true });
    for (const c of loose) {
      const things = (await registry.listPrincipalThings(c.certificateArn)).filter(
        (t) => t !== req.thingName,
      );
      if (things.length > 0) {
        throw sharedKey(req, `thing ${things[0]} (certificate ${short(c.certificateId)})`, {
          otherThing: things[0],
          otherCertificate: c.certificateId,
        });
      }
    }
    for (const c of loose) {
      const d = await registry.describeCertificate(c.certificateId);
      if (d) found.push({ ...c, active: d.status === "ACTIVE" });
    }
  }
  // The thing's own certificates come first: one already attached is preferred.
  const keeper = out.adopt === undefined ? found.find((c) => c.active) : undefined;
  for (const c of found) {
    if (c === keeper) continue;
    req.onInfo?.(`removing certificate ${short(c.certificateId)} of this key found in the cloud`);
    const who = { device: req.deviceId, thing: req.thingName };
    await removeForeignCertificate(registry, ledger, who, { ...c, spkiSha256: key.spkiSha256 });
    out.removedFromCloud.push(c.certificateId);
  }
  if (keeper) {
    const d = await registry.describeCertificate(keeper.certificateId);
    if (d === undefined || d.status !== "ACTIVE") return;
    req.onInfo?.(`certificate ${short(keeper.certificateId)} for this key found in the cloud: adopting it`);
    out.adopt = {
      certificateId: keeper.certificateId,
      certificateArn: keeper.certificateArn,
      certificatePem: d.certificatePem,
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
