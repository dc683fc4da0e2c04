/**
 * After COMMIT: restart and watch for the first publish, record it, retire
 * the device's superseded certificates, lock if asked. Nothing here is
 * undone: the device holds working credentials.
 */
import { asProvisionError, ProvisionError } from "../errors.js";
import { type Registration, recordCommitted, recordFirstPublish } from "../ledger/index.js";
import type { HelloAnswer } from "../protocol/index.js";
import { type CommittedCheck, type ExpectedSet, restartAndConfirmCommitted } from "./committed-check.js";
import { type FirstPublish, restartAndWatch } from "./first-publish.js";
import type { ProvisionDeps, ProvisionPlan, Step } from "./plan.js";
import { consentOf, retireOthers, type Settled } from "./verify.js";

export type Finished =
  | { first: FirstPublish; committed?: undefined; settled: Settled }
  | { first?: undefined; committed: CommittedCheck; settled: Settled };

export async function afterCommitSteps(
  step: Step,
  deps: ProvisionDeps,
  plan: Pick<
    ProvisionPlan,
    "firstPublishTimeoutMs" | "lock" | "until" | "force" | "retireUnknownCertificates"
  >,
  device: {
    hello: HelloAnswer;
    thingName: string;
    topic: string;
    registration: Registration;
    expected: ExpectedSet;
  },
): Promise<Finished> {
  const { session, ledger, observer, signal } = deps;
  const { hello, thingName, topic, registration } = device;
  const where = session.port;
  const marker = { run: registration.run, deviceId: hello.deviceId, thingName };
  await recordCommitted(ledger, marker, { certificateId: registration.certificateId });
  if (plan.until === "committed") {
    // No publish is seen, so no certificate is retired: the next `provision verify` that sees one does it.
    try {
      const committed = await step(
        "restartCheck",
        "restart and read the committed set back (first publish not checked)",
        () => restartAndConfirmCommitted(session, device.expected, { signal }),
        (c) => `generation ${c.generation} after a reboot of ${c.rebootMs} ms`,
      );
      if (plan.lock) await step("lock", "lock the device's provisioning commands", () => session.lock());
      return { committed, settled: { retired: [], kept: [] } };
    } catch (e) {
      throw afterCommit(e, thingName, where);
    }
  }
  let first: FirstPublish;
  try {
    first = await step(
      "firstPublish",
      `restart and wait for the first publish on ${topic}`,
      () => restartAndWatch(session, observer, thingName, topic, plan.firstPublishTimeoutMs, signal),
      (m) => m.payload,
    );
  } catch (e) {
    throw afterCommit(e, thingName, where);
  }
  await recordFirstPublish(ledger, marker, { topic: first.topic, payload: first.payload });
  try {
    const settled = await retireOthers(deps, {
      deviceId: hello.deviceId,
      thingName,
      current: registration.certificateId,
      consent: consentOf(plan),
      // A thing this run created held no other certificate: only the ledger's rotations are left.
      cloud: !registration.thingCreated,
    });
    if (plan.lock) await step("lock", "lock the device's provisioning commands", () => session.lock());
    return { first, settled };
  } catch (e) {
    throw afterCommit(e, thingName, where);
  }
}

/** After COMMIT nothing is undone: an interruption leaves a device that holds working credentials. */
function afterCommit(e: unknown, thingName: string, where: string): ProvisionError {
  const err = asProvisionError(e);
  if (err.code !== "INTERRUPTED") return err;
  return new ProvisionError(err.code, `${err.message} after ${thingName} committed its credentials`, {
    where,
    hint: "nothing to undo: `provision verify --port ...` checks that it publishes; the next `provision` on it finishes the ledger",
    details: { ...err.details, committed: true },
    cause: e,
  });
}
