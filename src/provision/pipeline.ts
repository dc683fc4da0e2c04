/**
 * One provisioning, along the design's data flow:
 *
 *   greet (HELLO, state) -> key + CSR checks -> register (ledger + rollback)
 *         -> credentials (write, commit, compare digests)
 *         -> restart -> first counter message
 *
 * Each stage is its own module (greet.ts, key-csr.ts, register-step.ts,
 * install-step.ts, after-commit.ts); this file only orders them. A device
 * that is already provisioned is verified (verify.ts), not registered again,
 * unless a rotation (`force`) was asked for.
 */
import { ProvisionError } from "../errors.js";
import { DEVICE_STATE as STATE } from "../protocol/index.js";
import { afterCommitSteps } from "./after-commit.js";
import { checkedSteps } from "./checked-step.js";
import { expectedSet } from "./committed-check.js";
import { firstMessageReport } from "./first-publish.js";
import { type Greeting, greet } from "./greet.js";
import { installStep } from "./install-step.js";
import { keyAndCsr } from "./key-csr.js";
import type { ProvisionDeps, ProvisionPlan, ProvisionResult } from "./plan.js";
import { checkPlan, thingNameFor } from "./plan-rules.js";
import { registerStep } from "./register-step.js";
import { retiredFields, verifyAndSettle } from "./verify.js";

export { credentialSet, installCredentials, policyTopic } from "./credentials.js";
export { type FirstPublish, restartAndWatch } from "./first-publish.js";
export { type Greeting, switchBaud } from "./greet.js";
export { stateName } from "./names.js";
export * from "./plan.js";
export { thingNameFor } from "./plan-rules.js";
export { verifyProvisioned } from "./verify.js";

/**
 * Provisions the device on `deps.session`, or verifies it when it already
 * is. `greeting`: the caller already met the device (HELLO, and its own
 * baud switch), so neither is repeated.
 */
export async function provisionDevice(
  deps: ProvisionDeps,
  plan: ProvisionPlan,
  greeting?: Greeting,
): Promise<ProvisionResult> {
  const { session, target, progress, signal } = deps;
  const where = session.port;
  // Library callers (station, tests) get the same up-front rules as the CLI.
  checkPlan(plan);
  const step = checkedSteps(progress, signal);

  const { hello, status, board } = await greet(deps, plan, greeting);
  const rotating = plan.force && status.state === STATE.PROVISIONED;
  if (status.state === STATE.LOCKED && plan.force) {
    throw new ProvisionError(
      "DEVICE_REFUSED",
      "the device is locked: its key and credentials cannot be replaced",
      {
        where,
        hint: "a locked device can only be verified; erase its flash with the vendor tools to start over",
      },
    );
  }
  if ((status.state === STATE.PROVISIONED || status.state === STATE.LOCKED) && !plan.force) {
    return verifyAndSettle(deps, hello, status, plan);
  }

  // A bad --thing-name template must fail before the chip makes a key.
  const thingName = thingNameFor(plan, hello);
  const { key, csr } = await keyAndCsr(step, session, plan, hello, board, thingName, rotating);
  const registration = await registerStep(step, deps, plan, {
    hello,
    thingName,
    csr,
    keyCreated: key.created,
  });
  const { endpoint, set, generation } = await installStep(step, deps, plan, registration, thingName);
  const topic = set.topic;
  const finished = await afterCommitSteps(step, deps, plan, {
    hello,
    thingName,
    topic,
    registration,
    expected: expectedSet(set, generation),
  });

  return {
    ok: true,
    mode: rotating ? "rotated" : "provisioned",
    port: where,
    deviceId: hello.deviceId,
    boardId: hello.boardId,
    firmwareVersion: hello.firmwareVersion,
    thingName,
    certificateId: registration.certificateId,
    certificateArn: registration.certificateArn,
    endpoint: `${endpoint}:${target.mqttPort}`,
    keyType: csr.keyType,
    topic,
    ...(finished.first
      ? { firstMessage: firstMessageReport(finished.first) }
      : { committed: finished.committed }),
    until: plan.until ?? "published",
    locked: plan.lock,
    ...retiredFields(finished.settled),
    ...(registration.adopted ? { adopted: true } : {}),
  };
}
