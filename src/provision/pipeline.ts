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
import { createHash } from "node:crypto";
import Handlebars from "handlebars";
import { getBoard } from "../boards/index.js";
import { throwIfInterrupted } from "../cli/interrupt.js";
import type { Progress } from "../cli/progress.js";
import { verifyCsr } from "../csr/index.js";
import { asProvisionError, ProvisionError } from "../errors.js";
import {
  type Ledger,
  ledgerState,
  type Registration,
  recordCommitted,
  recordFirstPublish,
  registerWithRollback,
  rollbackRegistration,
} from "../ledger/index.js";
import type { Observer } from "../observer/index.js";
import type { CredentialSet, CsrSubject, HelloAnswer, StatusAnswer } from "../protocol/index.js";
import {
  encodeRequest,
  KEY_STORE,
  KEY_TYPE,
  RESTART_DELAY_DEFAULT_MS,
  DEVICE_STATE as STATE,
} from "../protocol/index.js";
import { leastPrivilegePolicy, THING_NAME_VARIABLE, topicForThing } from "../registry/index.js";
import type { DeviceSession } from "../session/index.js";
import type { CloudTarget } from "./target.js";

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
  /** Aborted on SIGINT: the pipeline stops at the next safe point and undoes what it registered. */
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
  firstMessage: { topic: string; payload: string; connectMs?: number; firstPublishMs: number };
  locked: boolean;
  /** Certificate deactivated after a rotation. */
  retiredCertificateId?: string;
}

const compiled = new Map<string, HandlebarsTemplateDelegate>();
function render(template: string, vars: Record<string, string>): string {
  let t = compiled.get(template);
  if (!t) {
    t = Handlebars.compile(template, { noEscape: true, strict: true });
    compiled.set(template, t);
  }
  try {
    return t(vars);
  } catch (e) {
    throw new ProvisionError("USAGE", `template "${template}": ${(e as Error).message}`, {
      hint: `variables available: ${Object.keys(vars).join(", ")}`,
    });
  }
}

/** `{{thingName}}/x` and `${iot:Connection.Thing.ThingName}/x` mean the same; the policy wants the latter. */
export function policyTopic(topic: string): string {
  return topic.split("{{thingName}}").join(THING_NAME_VARIABLE);
}

export function thingNameFor(plan: Pick<ProvisionPlan, "thingNameTemplate">, hello: HelloAnswer): string {
  const name = render(plan.thingNameTemplate, {
    deviceId: hello.deviceId,
    boardId: hello.boardId,
    firmwareVersion: hello.firmwareVersion,
  });
  if (!/^[a-zA-Z0-9:_-]{1,128}$/.test(name)) {
    throw new ProvisionError("USAGE", `thing name "${name}" is not valid for AWS IoT`, {
      hint: "thing names are 1-128 characters of a-z A-Z 0-9 : _ -",
    });
  }
  return name;
}

const sha256 = (b: Uint8Array | string) => createHash("sha256").update(b).digest();
const keyTypeName = (code: number | undefined) =>
  (Object.entries(KEY_TYPE_NAMES).find(([, v]) => v === code)?.[0] as KeyTypeName | undefined) ??
  `type ${code}`;

export function credentialSet(
  registration: Pick<Registration, "certificatePem" | "thingName">,
  target: Pick<CloudTarget, "rootCaPem" | "mqttPort">,
  endpoint: string,
  plan: Pick<ProvisionPlan, "topic" | "intervalMs" | "wifi">,
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

/** Writes and commits, then checks the device's digests against what was sent. */
export async function installCredentials(session: DeviceSession, set: CredentialSet) {
  const payload = encodeRequest("WRITE_CREDENTIALS", set);
  const expectedSet = sha256(payload);
  const expectedCert = sha256(set.certificatePem);
  const staged = await session.writeCredentials(set);
  if (!staged.digest.equals(expectedSet)) {
    throw new ProvisionError("DEVICE_MISMATCH", "the device staged different bytes than were sent", {
      where: session.port,
      hint: "the serial line corrupts data: try a lower --baud or another cable; nothing was committed",
      deviceLog: session.deviceLog.slice(-10),
    });
  }
  const committed = await session.commit();
  if (!committed.setDigest.equals(expectedSet) || !committed.certDigest.equals(expectedCert)) {
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

/**
 * After a lost answer (not a refusal, not a digest mismatch) the COMMIT may
 * still have happened: STATUS tells, by the committed set's digest, which
 * covers the new certificate, so an earlier set cannot match.
 */
async function committedDespite(
  session: DeviceSession,
  set: CredentialSet,
  failure: ProvisionError,
): Promise<boolean> {
  if (failure.code !== "DEVICE_SILENT" && failure.code !== "DEVICE_PROTOCOL") return false;
  try {
    const status = await session.status();
    return status.setDigest?.equals(sha256(encodeRequest("WRITE_CREDENTIALS", set))) === true;
  } catch {
    return false;
  }
}

export interface FirstPublish {
  topic: string;
  /** Payload as UTF-8 text, e.g. `{"counter": 0}`. */
  payload: string;
  /** Epoch ms: restart asked, lifecycle "connected" seen (if it was), first message received. */
  restartedAt: number;
  connectedAt?: number;
  receivedAt: number;
}

/**
 * Restart the device and wait for its first publish. The observer's
 * subscriptions are acknowledged before the restart, so not even a device
 * that connects within milliseconds can be missed.
 */
export async function restartAndWatch(
  session: DeviceSession,
  observer: Observer,
  thingName: string,
  topic: string,
  timeoutMs: number,
): Promise<FirstPublish> {
  await observer.watch(thingName, topic);
  try {
    const restartedAt = Date.now();
    await session.restart();
    // A device that was running (verify, rotation) publishes on this topic until it restarts, which it
    // does RESTART_DELAY_DEFAULT_MS after answering: only what comes after is the new boot's message.
    const notBefore = new Date(Date.now() + RESTART_DELAY_DEFAULT_MS);
    const first = await observer
      .waitForFirstMessage(thingName, topic, timeoutMs, { notBefore })
      .catch((e: unknown) => {
        // The device's own words are the best clue for a device that never published.
        const err = asProvisionError(e);
        throw new ProvisionError(err.code, err.message, {
          where: `${err.where ?? `thing ${thingName}`} on ${session.port}`,
          hint: err.hint,
          details: err.details,
          deviceLog: session.deviceLog.slice(-20),
          cause: e,
        });
      });
    const out: FirstPublish = {
      topic: first.topic,
      payload: first.payload.toString("utf8"),
      restartedAt,
      receivedAt: first.receivedAt.getTime(),
    };
    if (first.connectedAt) out.connectedAt = first.connectedAt.getTime();
    return out;
  } finally {
    await observer.unwatch(thingName, topic);
  }
}

function firstMessageReport(m: FirstPublish) {
  const out: ProvisionResult["firstMessage"] = {
    topic: m.topic,
    payload: m.payload,
    firstPublishMs: m.receivedAt - m.restartedAt,
  };
  if (m.connectedAt !== undefined) out.connectMs = m.connectedAt - m.restartedAt;
  return out;
}

/** QA: a provisioned device restarts and must publish; nothing is written. */
export async function verifyProvisioned(
  deps: Pick<ProvisionDeps, "session" | "observer" | "progress">,
  hello: HelloAnswer,
  status: StatusAnswer,
  timeoutMs: number,
): Promise<ProvisionResult> {
  const { session, observer, progress } = deps;
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
  const first = await progress.step(
    "firstPublish",
    `restart ${thingName} and wait for its first publish on ${topic}`,
    () => restartAndWatch(session, observer, thingName, topic, timeoutMs),
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

export function stateName(state: number | undefined): string {
  return Object.entries(STATE).find(([, v]) => v === state)?.[0] ?? `unknown (${state})`;
}

export async function provisionDevice(deps: ProvisionDeps, plan: ProvisionPlan): Promise<ProvisionResult> {
  const { session, target, ledger, observer, progress } = deps;
  const where = session.port;

  const hello = await progress.step(
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
  if (plan.switchBaud) await switchBaud(session, hello, plan.switchBaud, progress);
  const status = await progress.step(
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
    progress.info(
      `device is already provisioned as ${status.thingName}: verifying instead (--force rotates)`,
    );
    return verifyProvisioned(deps, hello, status, plan.firstPublishTimeoutMs);
  }

  // A bad --thing-name template must fail before the chip makes a key.
  const thingName = thingNameFor(plan, hello);

  // Key: made (or found) on the chip; only its public half ever comes back.
  const wantedType = plan.keyType ?? (board?.keyTypes.default as KeyTypeName | undefined) ?? "ec-p256";
  const wantedStore = plan.keyStore ?? (board?.keyStore.default as KeyStoreName | undefined) ?? "nvs";
  const key = await progress.step(
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

  throwIfInterrupted(deps.signal);
  const subject: CsrSubject = { ...plan.subject, CN: plan.subject.CN ?? thingName };
  const csr = await progress.step(
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

  throwIfInterrupted(deps.signal);
  const registration = await progress.step(
    "register",
    `register ${thingName} with AWS IoT (${target.kind === "local" ? "local" : target.region})`,
    () =>
      registerWithRollback(target.registry, ledger, {
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
      }),
    (r) => `certificate ${r.certificateId.slice(0, 12)}…`,
  );
  const marker = { run: registration.run, deviceId: hello.deviceId, thingName };

  // From here until COMMIT the cloud holds a certificate the device does not: undo it on any failure.
  let endpoint = "";
  let set: CredentialSet | undefined;
  try {
    endpoint = await progress.step("endpoint", "find the data endpoint", () => target.endpoint());
    const toWrite = credentialSet(registration, target, endpoint, plan);
    set = toWrite;
    throwIfInterrupted(deps.signal);
    await progress.step(
      "credentials",
      "write and commit the credentials",
      () => installCredentials(session, toWrite),
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
      try {
        await rollbackRegistration(target.registry, ledger, registration);
      } catch (rollbackError) {
        throw asProvisionError(rollbackError);
      }
      throw failure;
    }
  }
  if (set === undefined)
    throw new ProvisionError("INTERNAL", "credentials were committed without a set", { where });
  await recordCommitted(ledger, marker, { certificateId: registration.certificateId });

  const first = await progress.step(
    "firstPublish",
    `restart and wait for the first publish on ${set.topic}`,
    () => restartAndWatch(session, observer, thingName, set.topic, plan.firstPublishTimeoutMs),
    (m) => m.payload,
  );
  await recordFirstPublish(ledger, marker, { topic: first.topic, payload: first.payload });

  let retiredCertificateId: string | undefined;
  if (rotating) {
    retiredCertificateId = await retireOldCertificate(deps, hello.deviceId, registration.certificateId);
  }

  if (plan.lock) {
    await progress.step("lock", "lock the device's provisioning commands", () => session.lock());
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
    topic: set.topic,
    firstMessage: firstMessageReport(first),
    locked: plan.lock,
    ...(retiredCertificateId ? { retiredCertificateId } : {}),
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

/**
 * After a rotation the new certificate has been seen publishing; only now is
 * the previous one deactivated (never deleted: an operator may want it back).
 * The ledger says which certificate the device had before.
 */
async function retireOldCertificate(deps: ProvisionDeps, deviceId: string, newCertificateId: string) {
  const { ledger, target, progress } = deps;
  const state = await ledgerState(ledger.file);
  const previous = state.runs
    .filter((r) => r.device === deviceId && r.certificateId && r.certificateId !== newCertificateId)
    .filter((r) => r.status === "committed" || r.status === "verified")
    .at(-1);
  if (!previous?.certificateId) {
    progress.info(
      `the previous certificate of ${deviceId} is not in ledger ${ledger.file}: deactivate it by hand (aws iot update-certificate --new-status INACTIVE)`,
    );
    return undefined;
  }
  const id = previous.certificateId;
  await progress.step("retire", `deactivate the previous certificate ${id.slice(0, 12)}…`, () =>
    target.registry.deactivateCertificate(id),
  );
  return id;
}
