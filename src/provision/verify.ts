/**
 * A device that is already provisioned: restarted and watched until it
 * publishes (QA's `verify`), and on a re-run the ledger settled with what
 * the device holds and its superseded certificates retired.
 */
import { ProvisionError } from "../errors.js";
import {
  planRetirement,
  type Retirement,
  type RetirementPlan,
  type RetirementRequest,
  readThing,
  retirePlanned,
  settleDeviceHolds,
} from "../ledger/index.js";
import type { HelloAnswer, StatusAnswer } from "../protocol/index.js";
import { DEVICE_STATE as STATE } from "../protocol/index.js";
import { checkedSteps } from "./checked-step.js";
import { restartAndConfirmCommitted } from "./committed-check.js";
import { firstMessageReport, restartAndWatch } from "./first-publish.js";
import { keyTypeName, stateName } from "./names.js";
import type { ProvisionDeps, ProvisionPlan, ProvisionResult, Until } from "./plan.js";

/** How a verification ends: the first publish within `timeoutMs`, or (`until: "committed"`) a restart that keeps the set. */
export interface VerifyWait {
  timeoutMs: number;
  until?: Until;
}

/** QA: a provisioned device restarts and must publish (or, `until: "committed"`, come back with its set); nothing is written. */
export async function verifyProvisioned(
  deps: Pick<ProvisionDeps, "session" | "observer" | "progress" | "signal">,
  hello: HelloAnswer,
  status: StatusAnswer,
  wait: VerifyWait,
): Promise<ProvisionResult> {
  const { session, observer, progress, signal } = deps;
  if (status.state !== STATE.PROVISIONED && status.state !== STATE.LOCKED) {
    throw new ProvisionError(
      "DEVICE_REFUSED",
      `the device is not provisioned (state ${stateName(status.state)})`,
      {
        where: session.port,
        hint: "run `provision --port ...` first",
      },
    );
  }
  const thingName = status.thingName ?? "";
  const topic = status.topic ?? "";
  const step = checkedSteps(progress, signal);
  const ending =
    wait.until === "committed"
      ? {
          committed: await step(
            "restartCheck",
            `restart ${thingName} and read its committed set back (first publish not checked)`,
            () =>
              restartAndConfirmCommitted(
                session,
                {
                  setDigest: status.setDigest ?? Buffer.alloc(0),
                  certSha256: status.certSha256 ?? Buffer.alloc(0),
                  generation: status.generation,
                },
                { signal },
              ),
            (c) => `generation ${c.generation} after a reboot of ${c.rebootMs} ms`,
          ),
        }
      : {
          firstMessage: firstMessageReport(
            await step(
              "firstPublish",
              `restart ${thingName} and wait for its first publish on ${topic}`,
              () => restartAndWatch(session, observer, thingName, topic, wait.timeoutMs, signal),
              (m) => m.payload,
            ),
          ),
        };
  return {
    ok: true,
    mode: "verified",
    port: session.port,
    deviceId: hello.deviceId,
    boardId: hello.boardId,
    firmwareVersion: hello.firmwareVersion,
    thingName,
    endpoint: `${status.endpoint}:${status.mqttPort}`,
    keyType: keyTypeName(status.keyType),
    topic,
    ...ending,
    until: wait.until ?? "published",
    locked: status.state === STATE.LOCKED,
  };
}

/**
 * A provisioned device is verified; on the way the ledger learns which of
 * its certificates the device holds (a run killed right after COMMIT never
 * recorded it), and once it publishes the thing's other certificates are
 * retired (a rotation whose deactivation was interrupted, at this station
 * or another: src/ledger/retirement.ts).
 */
export async function verifyAndSettle(
  deps: ProvisionDeps,
  hello: HelloAnswer,
  status: StatusAnswer,
  plan: Pick<ProvisionPlan, "firstPublishTimeoutMs" | "until" | "force" | "retireUnknownCertificates">,
): Promise<ProvisionResult> {
  const { target, ledger, progress } = deps;
  progress.info(`device is already provisioned as ${status.thingName}: verifying instead (--force rotates)`);
  const holds = await settleDeviceHolds(target.registry, ledger, {
    deviceId: hello.deviceId,
    thingName: status.thingName,
    certSha256: status.certSha256?.toString("hex"),
    onInfo: (text) => progress.info(text),
  });
  if (holds.reconciled && holds.certificateId)
    progress.info(
      `the ledger had no COMMIT for certificate ${holds.certificateId.slice(0, 12)}… (an interrupted run): recorded it`,
    );
  const result = await verifyProvisioned(deps, hello, status, {
    timeoutMs: plan.firstPublishTimeoutMs,
    until: plan.until,
  });
  // Retiring needs a publish seen with the certificate the device holds.
  if (result.until === "committed") return result;
  // The ledger may not know the certificate the device holds (another station's, a lost ledger): the
  // thing's certificates in the cloud say which one it is, by the digest the device reported.
  const digest = status.certSha256?.toString("hex");
  const current =
    holds.certificateId ??
    (digest === undefined || status.thingName === undefined
      ? undefined
      : (await readThing(target.registry, status.thingName)).certificates.find((c) => c.certSha256 === digest)
          ?.certificateId);
  if (current === undefined) return result;
  const settled = await retireOthers(deps, {
    deviceId: hello.deviceId,
    thingName: status.thingName,
    current,
    consent: consentOf(plan),
    cloud: true,
  });
  return { ...result, ...retiredFields(settled) };
}

/** The flag that lets the tool retire certificates no run of its ledger made, as the operator gave it. */
export function consentOf(plan: Pick<ProvisionPlan, "force" | "retireUnknownCertificates">) {
  if (plan.retireUnknownCertificates) return "--retire-unknown-certificates" as const;
  return plan.force ? ("--force" as const) : undefined;
}

export function retiredFields(settled: Settled): Partial<ProvisionResult> {
  const out: Partial<ProvisionResult> = {};
  const retired = settled.retired.map((r) => r.certificateId);
  if (retired.length > 0) {
    out.retiredCertificateId = retired[0];
    out.retiredCertificateIds = retired;
    out.retiredCertificates = settled.retired.map((r) => ({
      certificateId: r.certificateId,
      why: r.why,
      ...(r.consent ? { consent: r.consent } : {}),
    }));
  }
  if (settled.kept.length > 0) out.keptCertificates = settled.kept;
  return out;
}

export interface Settled {
  retired: Retirement[];
  kept: RetirementPlan["keep"];
}

/**
 * Retires the device's other certificates, as a step of its own when there
 * are any; says which ACTIVE ones of its thing are kept, and why.
 */
export async function retireOthers(deps: ProvisionDeps, req: RetirementRequest): Promise<Settled> {
  const { target, ledger, progress, signal } = deps;
  const plan = await planRetirement(target.registry, ledger, req);
  for (const k of plan.keep)
    progress.info(
      k.needsConsent
        ? `kept ${k.why}: pass --retire-unknown-certificates to retire it once the device publishes (\`provision cleanup --thing ${req.thingName ?? "NAME"}\` lists the thing's certificates)`
        : `kept certificate ${k.certificateId}: ${k.why}`,
    );
  const kept = plan.keep.map(({ certificateId, why }) => ({ certificateId, why }));
  if (plan.retire.length === 0) return { retired: [], kept };
  const ids = plan.retire.map((r) => `${r.certificateId.slice(0, 12)}…`).join(", ");
  const consented = plan.retire.filter((r) => r.consent).map((r) => r.consent);
  const retired = await checkedSteps(progress, signal)(
    "retire",
    `deactivate and detach the previous certificate${plan.retire.length > 1 ? "s" : ""} ${ids}`,
    () => retirePlanned(target.registry, ledger, req, plan),
    () =>
      consented.length > 0
        ? `${plan.retire.length} retired; ${consented.length} made outside this ledger, retired as ${consented[0]} allows`
        : `${plan.retire.length} retired`,
  );
  return { retired, kept };
}
