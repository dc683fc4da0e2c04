/**
 * Credentials into the device: the data endpoint, then the set staged and
 * committed. Until COMMIT the cloud holds a certificate the device does
 * not, so a failure before COMMIT rolls the registration back. Once COMMIT
 * went out, only a device that says it does not hold the set lets the
 * registration go: when STATUS shows the new set it is kept (the answer was
 * lost), and when the device cannot be asked (the port went away with the
 * COMMIT in flight) the run is left registered, as a kill at that moment
 * would leave it, for the next run on the device to settle
 * (docs/decisions.md D13, docs/reliability.md).
 */
import { asProvisionError } from "../errors.js";
import { type Registration, rollbackRegistration } from "../ledger/index.js";
import type { CredentialSet } from "../protocol/index.js";
import { commitCredentials, commitOutcome, credentialSet, stageCredentials } from "./credentials.js";
import type { ProvisionDeps, ProvisionPlan, Step } from "./plan.js";

export interface Installed {
  endpoint: string;
  set: CredentialSet;
  /** The committed generation, from COMMIT's answer (undefined when that answer was lost). */
  generation?: number;
}

export async function installStep(
  step: Step,
  deps: Pick<ProvisionDeps, "session" | "target" | "ledger" | "progress">,
  plan: ProvisionPlan,
  registration: Registration,
  thingName: string,
): Promise<Installed> {
  const { session, target, ledger, progress } = deps;
  // The set whose COMMIT went out: from then on the device may hold it, whatever the answer.
  let committing: CredentialSet | undefined;
  try {
    const endpoint = await step("endpoint", "find the data endpoint", () => target.endpoint());
    const toWrite = credentialSet(registration, target, endpoint, plan);
    await step(
      "credentials",
      "write the credentials (staged)",
      () => stageCredentials(session, toWrite),
      (s) => `${s.stagedLength} bytes`,
    );
    const committed = await step(
      "commit",
      "commit the credentials",
      () => {
        committing = toWrite;
        return commitCredentials(session, toWrite);
      },
      (c) => `generation ${c.generation}`,
    );
    return { endpoint, set: toWrite, generation: committed.generation };
  } catch (e) {
    const failure = asProvisionError(e);
    const outcome =
      committing === undefined ? "not-committed" : await commitOutcome(session, committing, failure);
    if (committing !== undefined && outcome === "committed") {
      // Deleting the certificate now would strand a device that holds it.
      progress.info(
        `the answer to COMMIT was lost, but ${thingName} holds the new credentials: keeping them`,
      );
      return { endpoint: committing.endpoint, set: committing };
    }
    if (outcome === "unknown") {
      // The device may hold the set: deleting its certificate could strand it, keeping it strands nothing.
      progress.info(
        `${thingName} could not be asked whether it committed the credentials: keeping its registration`,
      );
      throw failure.with({
        hint:
          "the device may hold the new certificate: run provision again on this device once it is back; " +
          "it asks the device, then finishes the job or rolls it back (`provision cleanup` reports the run meanwhile)",
        details: { ...failure.details, rolledBack: false, commitUnknown: true },
      });
    }
    progress.info(`rolling back ${thingName}: ${failure.message}`);
    await rollbackRegistration(target.registry, ledger, registration);
    failure.details.rolledBack = true;
    throw failure;
  }
}
