/**
 * One provisioning, along the design's data flow:
 *
 *   HELLO -> key -> CSR checks -> cloud registry (ledger + rollback)
 *         -> credentials (write, commit, compare digests) -> observer
 *         -> restart -> first counter message
 *
 * Each stage lives in its own module; this file only orders them, times
 * them, and decides what a failure at each point must undo. A device that
 * is already provisioned is verified, not registered again, unless a
 * rotation (`force`) was asked for.
 */
import { getBoard } from "../boards/index.js";
import { verifyCsr } from "../csr/index.js";
import { asProvisionError, ProvisionError } from "../errors.js";
import {
  type Ledger,
  recordCommitted,
  recordFirstPublish,
  registerWithRollback,
  retireSuperseded,
  rollbackRegistration,
  settleDeviceHolds,
  settlePriorRuns,
  supersededCertificates,
} from "../ledger/index.js";
import type { Observer } from "../observer/index.js";
import type { CredentialSet, CsrSubject, HelloAnswer, StatusAnswer } from "../protocol/index.js";
import { KEY_STORE, KEY_TYPE, DEVICE_STATE as STATE } from "../protocol/index.js";
import { leastPrivilegePolicy } from "../registry/index.js";
import type { DeviceSession } from "../session/index.js";
import {
  commitCredentials,
  committedDespite,
  credentialSet,
  policyTopic,
  stageCredentials,
} from "./credentials.js";
import { type FirstMessageReport, firstMessageReport, restartAndWatch } from "./first-publish.js";
import { throwIfInterrupted } from "./interruption.js";
import { checkPlan, thingNameFor } from "./plan-rules.js";
import type { Progress } from "./progress.js";
import type { CloudTarget } from "./target.js";

export {
  credentialSet,
  installCredentials,
  policyTopic,
} from "./credentials.js";
export { type FirstPublish, restartAndWatch } from "./first-publish.js";
export { thingNameFor } from "./plan-rules.js";

export const KEY_TYPE_NAMES = {
  "ec-p256": KEY_TYPE.EC_P256,
  "ec-p384": KEY_TYPE.EC_P384,
  "rsa-2048": KEY_TYPE.RSA_2048,
  "rsa-3072": KEY_TYPE.RSA_3072,
} as const;
export type KeyTypeName = keyof typeof KEY_TYPE_NAMES;
export const KEY_STORE_NAMES = {
  nvs: KEY_STORE.NVS,
  "nvs-encrypted": KEY_STORE.NVS_ENCRYPTED,
  ds: KEY_STORE.DS,
  atecc608: KEY_STORE.ATECC608,
  file: KEY_STORE.FILE,
} as const;
export type KeyStoreName = keyof typeof KEY_STORE_NAMES;

export const THING_NAME_TEMPLATE_DEFAULT = "{{boardId}}-{{deviceId}}";
export const POLICY_NAME_DEFAULT = "provision-device-least-privilege";
export const INTERVAL_MS_DEFAULT = 5000;
export const FIRST_PUBLISH_TIMEOUT_MS_DEFAULT = 60_000;

export interface ProvisionPlan {
  /** Handlebars over {deviceId, boardId, firmwareVersion}. */
  thingNameTemplate: string;
  /** Topic with `{{thingName}}` or `${iot:Connection.Thing.ThingName}`, or a literal such as `topic_001`. */
  topic: string;
  policyName: string;
  /** Explicit policy JSON; default: the least-privilege template for `topic`. */
  policyDocument?: string;
  intervalMs: number;
  keyType?: KeyTypeName;
  keyStore?: KeyStoreName;
  subject: CsrSubject;
  wifi?: { ssid: string; password?: string };
  force: boolean;
  lock: boolean;
  firstPublishTimeoutMs: number;
  /** Board the user named; must agree with what the device says. */
  boardId?: string;
  /** After HELLO, switch both sides to this baud rate (confirmed by PING, falls back if it fails). */
  switchBaud?: number;
}

export interface ProvisionDeps {
  session: DeviceSession;
  target: CloudTarget;
  ledger: Ledger;
  observer: Observer;
  progress: Progress;
  /**
   * Aborted on SIGINT/SIGTERM/SIGHUP (src/provision/interruption.ts): checked before every step; the
   * pipeline stops there and undoes what it registered, or, once the device committed, keeps it.
   */
  signal?: AbortSignal;
}

export interface ProvisionResult {
  ok: true;
  mode: "provisioned" | "rotated" | "verified";
  port: string;
  deviceId: string;
  boardId: string;
  firmwareVersion: string;
  thingName: string;
  certificateId?: string;
  certificateArn?: string;
  endpoint: string;
  keyType?: string;
  topic: string;
  firstMessage: FirstMessageReport;
  locked: boolean;
  /** Certificate deactivated after a rotation (the first of retiredCertificateIds). */
  retiredCertificateId?: string;
  /** Every certificate of the device retired because it now holds this one. */
  retiredCertificateIds?: string[];
  /** The certificate was issued by an earlier, interrupted run for the same key and taken over. */
  adopted?: boolean;
}

type Step = <T>(
  name: string,
  label: string,
  run: () => Promise<T>,
  describe?: (r: T) => string,
) => Promise<T>;

/** progress.step, after a look at the signal: the interruption point before every step. */
function checkedSteps(progress: Progress, signal: AbortSignal | undefined): Step {
  return (name, label, run, describe) => {
    throwIfInterrupted(signal);
    return progress.step(name, label, run, describe);
  };
}

const keyTypeName = (code: number | undefined) =>
  (Object.entries(KEY_TYPE_NAMES).find(([, v]) => v === code)?.[0] as KeyTypeName | undefined) ??
  `type ${code}`;

/** QA: a provisioned device restarts and must publish; nothing is written. */
export async function verifyProvisioned(
  deps: Pick<ProvisionDeps, "session" | "observer" | "progress" | "signal">,
  hello: HelloAnswer,
  status: StatusAnswer,
  timeoutMs: number,
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
  const first = await checkedSteps(progress, signal)(
    "firstPublish",
    `restart ${thingName} and wait for its first publish on ${topic}`,
    () => restartAndWatch(session, observer, thingName, topic, timeoutMs, signal),
    (m) => m.payload,
  );
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
    firstMessage: firstMessageReport(first),
    locked: status.state === STATE.LOCKED,
  };
}

/**
 * A provisioned device is verified; on the way the ledger learns which of
 * its certificates the device holds (a run killed right after COMMIT never
 * recorded it), and once it publishes the device's other certificates are
 * retired (a rotation whose deactivation was interrupted).
 */
async function verifyAndSettle(
  deps: ProvisionDeps,
  hello: HelloAnswer,
  status: StatusAnswer,
  timeoutMs: number,
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
  const result = await verifyProvisioned(deps, hello, status, timeoutMs);
  if (holds.certificateId === undefined) return result;
  const retired = await retireOthers(deps, hello.deviceId, holds.certificateId);
  return { ...result, ...retiredFields(retired) };
}

function retiredFields(retired: string[]): Partial<ProvisionResult> {
  return retired.length > 0 ? { retiredCertificateId: retired[0], retiredCertificateIds: retired } : {};
}

/** Retires the device's other certificates, as a step of its own when there are any. */
async function retireOthers(deps: ProvisionDeps, deviceId: string, current: string): Promise<string[]> {
  const { target, ledger, progress, signal } = deps;
  const others = await supersededCertificates(ledger, deviceId, current);
  if (others.length === 0) return [];
  return checkedSteps(progress, signal)(
    "retire",
    `deactivate and detach the previous certificate${others.length > 1 ? "s" : ""} ${others.map((id) => `${id.slice(0, 12)}…`).join(", ")}`,
    () => retireSuperseded(target.registry, ledger, deviceId, current),
  );
}

export function stateName(state: number | undefined): string {
  return Object.entries(STATE).find(([, v]) => v === state)?.[0] ?? `unknown (${state})`;
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

export async function provisionDevice(deps: ProvisionDeps, plan: ProvisionPlan): Promise<ProvisionResult> {
  const { session, target, ledger, observer, progress, signal } = deps;
  const where = session.port;
  // Library callers (station, tests) get the same up-front rules as the CLI.
  checkPlan(plan);
  const step = checkedSteps(progress, signal);

  const hello = await step(
    "hello",
    `meet the device on ${where}`,
    () => session.hello(),
    (h) => `${h.boardId} ${h.deviceId}, firmware ${h.firmwareVersion}`,
  );
  if (plan.boardId && plan.boardId !== hello.boardId) {
    throw new ProvisionError(
      "DEVICE_MISMATCH",
      `--board ${plan.boardId} but the device says it is ${hello.boardId}`,
      {
        where,
        hint: "drop --board, or flash the firmware rendered for this board",
      },
    );
  }
  const board = tryBoard(hello.boardId);
  if (plan.switchBaud) {
    throwIfInterrupted(signal);
    await switchBaud(session, hello, plan.switchBaud, progress);
  }
  const status = await step(
    "status",
    "read the device state",
    () => session.status(),
    (s) => stateName(s.state),
  );

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
    return verifyAndSettle(deps, hello, status, plan.firstPublishTimeoutMs);
  }

  // A bad --thing-name template must fail before the chip makes a key.
  const thingName = thingNameFor(plan, hello);

  // Key: made (or found) on the chip; only its public half ever comes back.
  const wantedType = plan.keyType ?? (board?.keyTypes.default as KeyTypeName | undefined) ?? "ec-p256";
  const wantedStore = plan.keyStore ?? (board?.keyStore.default as KeyStoreName | undefined) ?? "nvs";
  const key = await step(
    "key",
    `${rotating ? "make a new (pending) key" : "make or find the key"}: ${wantedType} in ${wantedStore}`,
    () =>
      session.generateKey({
        keyType: KEY_TYPE_NAMES[wantedType],
        keyStore: KEY_STORE_NAMES[wantedStore],
        force: plan.force,
      }),
    (k) => `${keyTypeName(k.keyType)}, ${k.created ? "generated now" : "existing key"}`,
  );
  if (!key.created && key.keyType !== KEY_TYPE_NAMES[wantedType] && plan.keyType !== undefined) {
    throw new ProvisionError(
      "DEVICE_MISMATCH",
      `the device already holds a ${keyTypeName(key.keyType)} key, not the ${wantedType} asked for`,
      { where, hint: "drop --key-type to use the existing key, or add --force to replace it" },
    );
  }

  const subject: CsrSubject = { ...plan.subject, CN: plan.subject.CN ?? thingName };
  const csr = await step(
    "csr",
    "get the CSR and check it (signature, key, key policy, subject)",
    async () =>
      verifyCsr(await session.getCsr(subject), {
        expectedPublicKeySpkiDer: key.publicKey,
        expectedSubject: { ...subject },
        where: `device ${hello.deviceId} on ${where}`,
      }),
    (c) => `${c.keyType}, ${c.subjectText}`,
  );

  const registration = await step(
    "register",
    `register ${thingName} with AWS IoT (${target.kind === "local" ? "local" : target.region})`,
    async () => {
      // What earlier runs left for this key or device: rolled back, or adopted instead of a second certificate.
      const prior = await settlePriorRuns(target.registry, ledger, {
        deviceId: hello.deviceId,
        thingName,
        publicKeySpki: csr.publicKeySpki,
        keyCreatedNow: key.created,
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
  const marker = { run: registration.run, deviceId: hello.deviceId, thingName };

  // From here until COMMIT the cloud holds a certificate the device does not: undo it on any failure.
  let endpoint = "";
  let set: CredentialSet | undefined;
  try {
    endpoint = await step("endpoint", "find the data endpoint", () => target.endpoint());
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
  } catch (e) {
    const failure = asProvisionError(e);
    if (set !== undefined && (await committedDespite(session, set, failure))) {
      // Deleting the certificate now would strand a device that holds it.
      progress.info(
        `the answer to COMMIT was lost, but ${thingName} holds the new credentials: keeping them`,
      );
    } else {
      progress.info(`rolling back ${thingName}: ${failure.message}`);
      await rollbackRegistration(target.registry, ledger, registration);
      failure.details.rolledBack = true;
      throw failure;
    }
  }
  if (set === undefined)
    throw new ProvisionError("INTERNAL", "credentials were committed without a set", { where });
  const topic = set.topic;
  await recordCommitted(ledger, marker, { certificateId: registration.certificateId });

  let first: Awaited<ReturnType<typeof restartAndWatch>>;
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

  let retired: string[];
  try {
    retired = await retireOthers(deps, hello.deviceId, registration.certificateId);
    if (plan.lock) {
      await step("lock", "lock the device's provisioning commands", () => session.lock());
    }
  } catch (e) {
    throw afterCommit(e, thingName, where);
  }

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
    firstMessage: firstMessageReport(first),
    locked: plan.lock,
    ...retiredFields(retired),
    ...(registration.adopted ? { adopted: true } : {}),
  };
}

/** The faster line rate for the long transfers, if the device offers it; the session falls back on failure. */
export async function switchBaud(
  session: DeviceSession,
  hello: HelloAnswer,
  baud: number,
  progress: Progress,
) {
  if (!hello.baudRates.includes(baud)) {
    progress.info(
      `the device cannot switch to ${baud} baud (it offers ${hello.baudRates.join(", ")}): staying`,
    );
    return;
  }
  await progress.step(
    "baud",
    `switch to ${baud} baud`,
    () => session.setBaud(baud),
    (r) => (r.fellBack ? `ping failed at ${baud}, back at ${r.baudRate}` : `now ${r.baudRate}`),
  );
}

function tryBoard(id: string) {
  try {
    return getBoard(id);
  } catch {
    return undefined;
  }
}
