/**
 * The credential set a device is given, and writing it: stage
 * (WRITE_CREDENTIALS, the device echoes a digest of what it staged), then
 * COMMIT (the device checks the certificate against its key, switches sets
 * atomically and answers with digests the host compares).
 */
import { ProvisionError } from "../errors.js";
import type { Registration } from "../ledger/index.js";
import type { CredentialSet } from "../protocol/index.js";
import { encodeRequest, sha256 } from "../protocol/index.js";
import { THING_NAME_VARIABLE, topicForThing } from "../registry/policy.js";
import type { DeviceSession } from "../session/index.js";
import type { CloudTarget } from "./target.js";

/** `{{thingName}}/x` and `${iot:Connection.Thing.ThingName}/x` mean the same; the policy wants the latter. */
export function policyTopic(topic: string): string {
  return topic.split("{{thingName}}").join(THING_NAME_VARIABLE);
}

export function credentialSet(
  registration: Pick<Registration, "certificatePem" | "thingName">,
  target: Pick<CloudTarget, "rootCaPem" | "mqttPort">,
  endpoint: string,
  plan: { topic: string; intervalMs: number; wifi?: { ssid: string; password?: string } },
): CredentialSet {
  const set: CredentialSet = {
    certificatePem: registration.certificatePem,
    rootCaPem: target.rootCaPem,
    endpoint,
    mqttPort: target.mqttPort,
    thingName: registration.thingName,
    topic: topicForThing(policyTopic(plan.topic), registration.thingName),
    publishIntervalMs: plan.intervalMs,
  };
  if (plan.wifi) {
    set.wifiSsid = plan.wifi.ssid;
    if (plan.wifi.password !== undefined) set.wifiPassword = plan.wifi.password;
  }
  return set;
}

/** WRITE_CREDENTIALS, checking that the device staged exactly the bytes sent. Nothing is committed yet. */
export async function stageCredentials(session: DeviceSession, set: CredentialSet) {
  const staged = await session.writeCredentials(set);
  if (!staged.digest.equals(sha256(encodeRequest("WRITE_CREDENTIALS", set)))) {
    throw new ProvisionError("DEVICE_MISMATCH", "the device staged different bytes than were sent", {
      where: session.port,
      hint: "the serial line corrupts data: try a lower --baud or another cable; nothing was committed",
      deviceLog: session.deviceLog.slice(-10),
    });
  }
  return staged;
}

/** COMMIT of the staged set, checking the device's digests of the set and the certificate. */
export async function commitCredentials(session: DeviceSession, set: CredentialSet) {
  const committed = await session.commit();
  const expectedSet = sha256(encodeRequest("WRITE_CREDENTIALS", set));
  if (!committed.setDigest.equals(expectedSet) || !committed.certDigest.equals(sha256(set.certificatePem))) {
    throw new ProvisionError(
      "DEVICE_MISMATCH",
      "the device committed a credential set whose digest differs",
      {
        where: session.port,
        hint: "run `provision --force` to write the credentials again",
        deviceLog: session.deviceLog.slice(-10),
      },
    );
  }
  return committed;
}

/** Writes and commits, then checks the device's digests against what was sent. */
export async function installCredentials(session: DeviceSession, set: CredentialSet) {
  await stageCredentials(session, set);
  return commitCredentials(session, set);
}

/**
 * What a COMMIT that did not answer as expected left on the device. A
 * refusal (the device said no) or a digest mismatch (it holds another set)
 * means not ours; otherwise the COMMIT may have happened, and STATUS tells
 * by the committed set's digest, which covers the new certificate, so an
 * earlier set cannot match. When STATUS cannot be read either (the port
 * went away: a power cut, a pulled cable) nobody knows yet.
 */
export async function commitOutcome(
  session: DeviceSession,
  set: CredentialSet,
  failure: ProvisionError,
): Promise<"committed" | "not-committed" | "unknown"> {
  if (failure.code === "DEVICE_REFUSED" || failure.code === "DEVICE_MISMATCH") return "not-committed";
  try {
    const status = await session.status();
    return status.setDigest?.equals(sha256(encodeRequest("WRITE_CREDENTIALS", set))) === true
      ? "committed"
      : "not-committed";
  } catch {
    return "unknown";
  }
}
