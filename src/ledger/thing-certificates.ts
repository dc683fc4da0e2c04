/**
 * The cloud is the source of truth for a thing's certificates. A ledger
 * knows only its own runs: a device provisioned at one station and rotated
 * or re-provisioned at another (another ledger, a lost one, a desk run)
 * would otherwise end with two ACTIVE certificates, neither ledger knowing
 * both. So before registering, and again once the new certificate is seen
 * publishing, the tool reads what AWS IoT says the thing holds
 * (ListThingPrincipalsV2, DescribeCertificate each) and sorts it against
 * the ledger:
 *
 * - ours: a live run of this ledger holds it (the ledger's rules apply);
 * - the device's key: issued for the key the device has now (adopted, or a
 *   second one for the key, removed: one certificate per key);
 * - unknown: ACTIVE, another key, no live run of this ledger made it. It is
 *   retired only with the operator's consent (`--force`, or
 *   `--retire-unknown-certificates`), taken into the ledger first as a run
 *   of its own ("found", with the consent and the reason), so that whichever
 *   run or cleanup sees the device publish with a newer one retires it.
 *   Without consent, a registration is refused before anything is created.
 */
import { certificateSpkiSha256 } from "../csr/index.js";
import type { CertificateStatus, CloudRegistry } from "../registry/registry.js";
import type { Ledger } from "./ledger.js";
import { newRunId } from "./records.js";
import { certificatePemSha256 } from "./register.js";
import { HOLDING, type LedgerSummary, type RunState } from "./state.js";
import { entry } from "./steps.js";

export interface ThingCertificate {
  certificateId: string;
  certificateArn: string;
  status: CertificateStatus;
  /** Attached EXCLUSIVE_THING (this tool always is); another program's default is NON_EXCLUSIVE_THING. */
  exclusive: boolean;
  /** SHA-256 (hex) of the PEM: what a device holding it reports in STATUS. */
  certSha256: string;
  /** SHA-256 (hex) of its key (SPKI DER); undefined when the PEM cannot be read. */
  spkiSha256?: string;
  creationDate?: Date;
}

export interface ThingView {
  thingName: string;
  exists: boolean;
  thingArn?: string;
  certificates: ThingCertificate[];
}

/** What the consent to retire unknown certificates came from, as the operator typed it. */
export type RetireConsent = "--force" | "--retire-unknown-certificates";

const idOfArn = (arn: string) => arn.slice(arn.lastIndexOf("/") + 1);

function spkiOf(pem: string): string | undefined {
  try {
    return certificateSpkiSha256(pem);
  } catch {
    return undefined;
  }
}

/**
 * The thing's certificates as AWS IoT has them now. A thing that does not
 * exist has none, and costs one DescribeThing (350/s), not a
 * ListThingPrincipals (10/s): a new device's check stays cheap.
 */
export async function readThing(registry: CloudRegistry, thingName: string): Promise<ThingView> {
  const thing = await registry.describeThing(thingName);
  if (thing === undefined) return { thingName, exists: false, certificates: [] };
  const certificates: ThingCertificate[] = [];
  for (const p of await registry.listThingPrincipalsV2(thingName)) {
    const d = await registry.describeCertificate(idOfArn(p.principal));
    if (d === undefined) continue;
    certificates.push({
      certificateId: d.certificateId,
      certificateArn: d.certificateArn || p.principal,
      status: d.status,
      exclusive: p.exclusive,
      certSha256: certificatePemSha256(d.certificatePem),
      spkiSha256: spkiOf(d.certificatePem),
      ...(d.creationDate ? { creationDate: d.creationDate } : {}),
    });
  }
  return { thingName, exists: true, thingArn: thing.thingArn, certificates };
}

export interface SortedCertificates {
  /** ACTIVE, held by a live run of this ledger. */
  ours: { cert: ThingCertificate; run: RunState }[];
  /** Not known to a live run, issued for the device's current key (any status). */
  deviceKey: ThingCertificate[];
  /** ACTIVE, another key, no live run of this ledger made it. */
  unknown: ThingCertificate[];
}

/** The thing's certificates but `current` (the one the device holds), sorted against the ledger. */
export function sortCertificates(
  view: ThingView,
  summary: LedgerSummary,
  device: { current?: string; spkiSha256?: string },
): SortedCertificates {
  const live = new Map<string, RunState>();
  for (const r of summary.runs) if (r.certificateId && HOLDING.has(r.status)) live.set(r.certificateId, r);
  const out: SortedCertificates = { ours: [], deviceKey: [], unknown: [] };
  for (const cert of view.certificates) {
    if (cert.certificateId === device.current) continue;
    const run = live.get(cert.certificateId);
    if (run && cert.status === "ACTIVE") out.ours.push({ cert, run });
    else if (run) continue;
    else if (device.spkiSha256 !== undefined && cert.spkiSha256 === device.spkiSha256)
      out.deviceKey.push(cert);
    else if (cert.status === "ACTIVE") out.unknown.push(cert);
  }
  return out;
}

/** How an unknown certificate is described to the operator. */
export function describeUnknown(c: ThingCertificate, thingName: string): string {
  const how = c.exclusive ? "" : ", attached non-exclusively (not by this tool)";
  const made = c.creationDate ? `, created ${c.creationDate.toISOString()}` : "";
  return `certificate ${c.certificateId} of thing ${thingName} is ACTIVE and no run of this ledger made it (another ledger, another station, or not this tool${made}${how})`;
}

/**
 * Takes an unknown certificate into the ledger as a run of its own, so that
 * its retirement is owed and found again after a crash: the record says
 * what it is, for which device, why, and by whose consent.
 */
export async function recordFound(
  ledger: Ledger,
  who: { deviceId?: string; thingName: string },
  cert: ThingCertificate,
  why: { consent?: RetireConsent; reason: string },
): Promise<RunState> {
  const run = newRunId();
  await ledger.append(
    entry(
      { run, device: who.deviceId, thing: who.thingName },
      {
        event: "found",
        data: {
          certificateId: cert.certificateId,
          certificateArn: cert.certificateArn,
          certSha256: cert.certSha256,
          ...(cert.spkiSha256 ? { spkiSha256: cert.spkiSha256 } : {}),
          status: cert.status,
          exclusive: cert.exclusive,
          reason: why.reason,
          ...(why.consent ? { consent: why.consent } : {}),
        },
      },
    ),
  );
  const found = (await ledger.summary()).runs.find((r) => r.run === run);
  if (found === undefined)
    throw new Error(`ledger ${ledger.file}: the found run ${run} is not readable back`);
  return found;
}
