/**
 * Once a device is seen publishing with a certificate, it holds that one
 * and no other: every other live certificate of it is retired (INACTIVE,
 * detached from things and policies, kept for an operator who wants it
 * back; rollback.ts). Two sources say which:
 *
 * - the ledger: certificates its runs gave the device (a rotation; one a
 *   killed run left for the next to finish);
 * - the cloud (thing-certificates.ts): any other ACTIVE certificate on the
 *   device's thing, whether or not this ledger made it. One taken into the
 *   ledger before registering ("found", with consent) is retired like the
 *   ledger's own; one of the device's key, like a second certificate for
 *   the key; one of another key that no run of this ledger made, only with
 *   the operator's consent, else it is kept and reported.
 *
 * The cloud is not asked when the run itself created the thing: a thing
 * that did not exist before this run held no certificate but its own.
 */
import type { CloudRegistry } from "../registry/registry.js";
import type { Ledger } from "./ledger.js";
import { retireRunCertificate } from "./rollback.js";
import { HOLDING, type RunState } from "./state.js";
import type { RetireConsent, ThingCertificate } from "./thing-certificates.js";
import * as cloud from "./thing-certificates.js";

export interface RetirementRequest {
  deviceId: string;
  /** The device's thing; without it only the ledger is asked. */
  thingName?: string;
  /** The certificate the device was seen publishing with. */
  current: string;
  consent?: RetireConsent;
  /** Ask the cloud too (false: the run created the thing, nothing else can be on it). */
  cloud: boolean;
}

export interface Retirement {
  certificateId: string;
  /** Why it goes, for the output and the ledger. */
  why: string;
  /** The flag that allowed it, for a certificate no run of this ledger made. */
  consent?: RetireConsent;
  run?: RunState;
  cert?: ThingCertificate;
}

export interface RetirementPlan {
  retire: Retirement[];
  /** ACTIVE certificates of the thing left alone, and why (no consent, another device's run). */
  keep: { certificateId: string; why: string; needsConsent?: boolean }[];
}

/** What retiring would do now; nothing changes yet. */
export async function planRetirement(
  registry: CloudRegistry,
  ledger: Ledger,
  req: RetirementRequest,
): Promise<RetirementPlan> {
  const summary = await ledger.summary();
  const plan: RetirementPlan = { retire: [], keep: [] };
  for (const run of summary.runs) {
    if (run.device !== req.deviceId || !HOLDING.has(run.status) || !run.certificateId) continue;
    if (run.certificateId === req.current) continue;
    const why =
      run.status === "found"
        ? "found on the thing before this device's registration, retired as consented then"
        : `an earlier certificate of this device (run ${run.run})`;
    const consent = run.consent as RetireConsent | undefined;
    plan.retire.push({ certificateId: run.certificateId, why, run, ...(consent ? { consent } : {}) });
  }
  if (!req.cloud || req.thingName === undefined) return plan;
  const view = await cloud.readThing(registry, req.thingName);
  const current = view.certificates.find((c) => c.certificateId === req.current);
  const sorted = cloud.sortCertificates(view, summary, {
    current: req.current,
    spkiSha256: current?.spkiSha256,
  });
  const planned = new Set(plan.retire.map((r) => r.certificateId));
  for (const { cert, run } of sorted.ours) {
    if (planned.has(cert.certificateId)) continue;
    plan.keep.push({
      certificateId: cert.certificateId,
      why: `held by run ${run.run} of ${run.device === undefined ? "another run" : `device ${run.device}`} in this ledger`,
    });
  }
  for (const cert of sorted.deviceKey) {
    if (cert.status === "ACTIVE")
      plan.retire.push({
        certificateId: cert.certificateId,
        why: "a second certificate for the device's key",
        cert,
      });
  }
  for (const cert of sorted.unknown) {
    const why = cloud.describeUnknown(cert, req.thingName);
    if (req.consent) plan.retire.push({ certificateId: cert.certificateId, why, consent: req.consent, cert });
    else plan.keep.push({ certificateId: cert.certificateId, why, needsConsent: true });
  }
  return plan;
}

/** Retires what the plan says, recording each (a certificate no run knew is taken into the ledger first). */
export async function retirePlanned(
  registry: CloudRegistry,
  ledger: Ledger,
  req: RetirementRequest,
  plan: RetirementPlan,
): Promise<Retirement[]> {
  const thingName = req.thingName ?? "";
  for (const r of plan.retire) {
    const run =
      r.run ??
      (await cloud.recordFound(ledger, { deviceId: req.deviceId, thingName }, r.cert as ThingCertificate, {
        consent: r.consent,
        reason: `${r.why}; the device publishes with ${req.current}`,
      }));
    await retireRunCertificate(registry, ledger, run, { supersededBy: req.current, reason: r.why });
  }
  return plan.retire;
}
