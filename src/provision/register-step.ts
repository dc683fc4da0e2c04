/**
 * Registering the checked CSR: what earlier runs left for this key or
 * device is settled first (rolled back, or adopted instead of a second
 * certificate), then certificate -> thing -> policy -> attach, each behind
 * a ledger record; a failure undoes itself (src/ledger/register.ts).
 */
import type { VerifiedCsr } from "../csr/index.js";
import { asProvisionError } from "../errors.js";
import { type Registration, registerWithRollback, settlePriorRuns } from "../ledger/index.js";
import type { HelloAnswer } from "../protocol/index.js";
import { leastPrivilegePolicy } from "../registry/index.js";
import { policyTopic } from "./credentials.js";
import type { ProvisionDeps, ProvisionPlan, Step } from "./plan.js";
import { consentOf } from "./verify.js";

export function registerStep(
  step: Step,
  deps: Pick<ProvisionDeps, "target" | "ledger" | "progress" | "signal">,
  plan: Pick<
    ProvisionPlan,
    "policyName" | "policyDocument" | "topic" | "force" | "retireUnknownCertificates"
  >,
  device: { hello: HelloAnswer; thingName: string; csr: VerifiedCsr; keyCreated: boolean },
): Promise<Registration> {
  const { target, ledger, progress, signal } = deps;
  const { hello, thingName, csr } = device;
  return step(
    "register",
    `register ${thingName} with AWS IoT (${target.kind === "local" ? "local" : target.region})`,
    async () => {
      const prior = await settlePriorRuns(target.registry, ledger, {
        deviceId: hello.deviceId,
        thingName,
        publicKeySpki: csr.publicKeySpki,
        keyCreatedNow: device.keyCreated,
        consent: consentOf(plan),
        onInfo: (text) => progress.info(text),
      });
      return registerWithRollback(target.registry, ledger, {
        csrPem: csr.csrPem,
        csrPublicKeySpki: csr.publicKeySpki,
        thingName,
        attributes: {
          deviceId: hello.deviceId,
          board: hello.boardId,
          firmware: hello.firmwareVersion.slice(0, 800),
        },
        policyName: plan.policyName,
        policyDocument:
          plan.policyDocument ??
          ((account) => leastPrivilegePolicy({ ...account, topic: policyTopic(plan.topic) })),
        deviceId: hello.deviceId,
        ...(prior.adopt ? { adopt: prior.adopt } : {}),
        ...(prior.thingRead ? { thingRead: prior.thingRead } : {}),
        signal,
      });
    },
    (r) =>
      `certificate ${r.certificateId.slice(0, 12)}…${r.adopted ? " (adopted from an interrupted run)" : ""}`,
  ).catch((e: unknown) => {
    const err = asProvisionError(e);
    // Registration undoes itself on failure (an interruption included): say so where the step failed.
    if (err.details.rolledBack === true) progress.info(`rolled back ${thingName}: ${err.message}`);
    throw err;
  });
}
