/**
 * Credentials into the device: the data endpoint, then the set staged and
 * committed. Until COMMIT the cloud holds a certificate the device does
 * not, so any failure rolls the registration back, except when the answer
 * to COMMIT was lost and STATUS shows the device holds the new set
 * (docs/decisions.md D13).
 */
import { asProvisionError } from "../errors.js";
import { type Registration, rollbackRegistration } from "../ledger/index.js";
import type { CredentialSet } from "../protocol/index.js";
import { commitCredentials, committedDespite, credentialSet, stageCredentials } from "./credentials.js";
import type { ProvisionDeps, ProvisionPlan, Step } from "./plan.js";

export interface Installed {
  endpoint: string;
  set: CredentialSet;
}

export async function installStep(
  step: Step,
  deps: Pick<ProvisionDeps, "session" | "target" | "ledger" | "progress">,
  plan: ProvisionPlan,
  registration: Registration,
  thingName: string,
): Promise<Installed> {
  const { session, target, ledger, progress } = deps;
  let set: CredentialSet | undefined;
  try {
    const endpoint = await step("endpoint", "find the data endpoint", () => target.endpoint());
    const toWrite = credentialSet(registration, target, endpoint, plan);
    set = toWrite;
    await step(
      "credentials",
      "write the credentials (staged)",
      () => stageCredentials(session, toWrite),
      (s) => `${s.stagedLength} bytes`,
    );
    await step(
      "commit",
      "commit the credentials",
      () => commitCredentials(session, toWrite),
      (c) => `generation ${c.generation}`,
    );
    return { endpoint, set: toWrite };
  } catch (e) {
    const failure = asProvisionError(e);
    if (set !== undefined && (await committedDespite(session, set, failure))) {
      // Deleting the certificate now would strand a device that holds it.
      progress.info(
        `the answer to COMMIT was lost, but ${thingName} holds the new credentials: keeping them`,
      );
      return { endpoint: set.endpoint, set };
    }
    progress.info(`rolling back ${thingName}: ${failure.message}`);
    await rollbackRegistration(target.registry, ledger, registration);
    failure.details.rolledBack = true;
    throw failure;
  }
}
