/**
 * A device that is already provisioned: restarted and watched until it
 * publishes (QA's `verify`), and on a re-run the ledger settled with what
 * the device holds and its superseded certificates retired.
 */
import { ProvisionError } from "../errors.js";
import { retireSuperseded, settleDeviceHolds, supersededCertificates } from "../ledger/index.js";
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
 * recorded it), and once it publishes the device's other certificates are
 * retired (a rotation whose deactivation was interrupted).
 */
export async function verifyAndSettle(
  deps: ProvisionDeps,
  hello: HelloAnswer,
  status: StatusAnswer,
  plan: Pick<ProvisionPlan, "firstPublishTimeoutMs" | "until">,
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
  if (holds.certificateId === undefined || result.until === "committed") return result;
  const retired = await retireOthers(deps, hello.deviceId, holds.certificateId);
  return { ...result, ...retiredFields(retired) };
}

export function retiredFields(retired: string[]): Partial<ProvisionResult> {
  return retired.length > 0 ? { retiredCertificateId: retired[0], retiredCertificateIds: retired } : {};
}

/** Retires the device's other certificates, as a step of its own when there are any. */
export async function retireOthers(
  deps: ProvisionDeps,
  deviceId: string,
  current: string,
): Promise<string[]> {
  const { target, ledger, progress, signal } = deps;
  const others = await supersededCertificates(ledger, deviceId, current);
  if (others.length === 0) return [];
  return checkedSteps(progress, signal)(
    "retire",
    `deactivate and detach the previous certificate${others.length > 1 ? "s" : ""} ${others.map((id) => `${id.slice(0, 12)}…`).join(", ")}`,
    () => retireSuperseded(target.registry, ledger, deviceId, current),
  );
}
