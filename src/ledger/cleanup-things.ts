/**
 * `provision cleanup --things PREFIX | --thing NAME`: a line audited and
 * repaired from the cloud alone, without the ledgers that made its things
 * (lost, on another machine, never kept). For each thing, what AWS IoT says
 * it holds (thing-certificates.ts):
 *
 * - a certificate that is not ACTIVE but still attached (an interrupted
 *   retirement, a hand deactivation): detached from the thing and its
 *   policies, kept INACTIVE; nothing can connect with it, so this is safe;
 * - one ACTIVE certificate: as it should be;
 * - several ACTIVE ones: only the device knows which one it holds. With
 *   `--keep ID` (the operator read it off the device, or knows) the others
 *   are retired; otherwise they are reported, with the two ways to settle
 *   them (`provision --port P --retire-unknown-certificates` asks the device).
 *
 * Everything it changes is recorded in the ledger it is given (a run of its
 * own per certificate, "found" with the reason, then "retired").
 */
import { asProvisionError } from "../errors.js";
import type { CloudRegistry } from "../registry/registry.js";
import type { Ledger } from "./ledger.js";
import { retireRunCertificate } from "./rollback.js";
import { stopIfInterrupted } from "./steps.js";
import { readThing, recordFound, type ThingCertificate } from "./thing-certificates.js";

export interface ThingsCleanupOptions {
  /** Every thing whose name starts with this. */
  prefix?: string;
  /** This one thing. */
  thing?: string;
  /** The certificate to keep where a thing has several ACTIVE ones (the operator's consent to retire the rest). */
  keep?: string;
  signal?: AbortSignal;
}

export interface ThingCleanup {
  thing: string;
  /** ACTIVE certificates before, and the one kept (when there is one). */
  active: string[];
  kept?: string;
  /** Retired now: INACTIVE, detached, kept; why. */
  retired: { certificateId: string; why: string }[];
  /** Several ACTIVE and no way to know which the device holds: left alone. */
  undecided?: string;
  error?: Record<string, unknown>;
}

export interface ThingsCleanupReport {
  ledger: string;
  thingsExamined: number;
  things: ThingCleanup[];
}

/** The thing names to look at: one, or every thing of the account with the prefix. */
async function thingNames(registry: CloudRegistry, o: ThingsCleanupOptions): Promise<string[]> {
  if (o.thing !== undefined) return [o.thing];
  const prefix = o.prefix ?? "";
  return (await registry.listThings()).filter((n) => n.startsWith(prefix));
}

async function retire(
  registry: CloudRegistry,
  ledger: Ledger,
  thingName: string,
  cert: ThingCertificate,
  why: string,
): Promise<void> {
  const run = await recordFound(ledger, { thingName }, cert, { reason: why });
  await retireRunCertificate(registry, ledger, run, { reason: why });
}

async function cleanOne(
  registry: CloudRegistry,
  ledger: Ledger,
  thingName: string,
  keep: string | undefined,
): Promise<ThingCleanup> {
  const view = await readThing(registry, thingName);
  const active = view.certificates.filter((c) => c.status === "ACTIVE");
  const out: ThingCleanup = { thing: thingName, active: active.map((c) => c.certificateId), retired: [] };
  for (const c of view.certificates.filter((x) => x.status !== "ACTIVE")) {
    const why = `${c.status} but still attached to ${thingName}`;
    await retire(registry, ledger, thingName, c, why);
    out.retired.push({ certificateId: c.certificateId, why });
  }
  if (active.length <= 1) {
    if (active[0]) out.kept = active[0].certificateId;
    return out;
  }
  const keeper = active.find((c) => c.certificateId === keep);
  if (keeper === undefined) {
    out.undecided =
      `${active.length} ACTIVE certificates; only the device knows which one it holds: run ` +
      `\`provision --port PORT --retire-unknown-certificates\` on it (it asks the device and retires the others), ` +
      `or \`provision cleanup --thing ${thingName} --keep CERTIFICATE_ID\``;
    return out;
  }
  out.kept = keeper.certificateId;
  for (const c of active) {
    if (c === keeper) continue;
    const why = `a second ACTIVE certificate of ${thingName}; --keep ${keeper.certificateId} given`;
    await retire(registry, ledger, thingName, c, why);
    out.retired.push({ certificateId: c.certificateId, why });
  }
  return out;
}

/** Audits and repairs the things, from the cloud alone, recording what it changes in `ledger`. */
export async function cleanupThings(
  registry: CloudRegistry,
  ledger: Ledger,
  options: ThingsCleanupOptions,
): Promise<ThingsCleanupReport> {
  const names = await thingNames(registry, options);
  const report: ThingsCleanupReport = { ledger: ledger.file, thingsExamined: names.length, things: [] };
  for (const name of names) {
    stopIfInterrupted(options.signal);
    try {
      report.things.push(await cleanOne(registry, ledger, name, options.keep));
    } catch (e) {
      report.things.push({ thing: name, active: [], retired: [], error: asProvisionError(e).toJSON() });
    }
  }
  return report;
}
