/**
 * The key and its CSR: the chip makes (or finds) the key in its store and
 * signs a CSR; the host checks the CSR (proof of possession, the same key,
 * key policy, subject) before anything is registered.
 */
import type { Board } from "../boards/index.js";
import { type VerifiedCsr, verifyCsr } from "../csr/index.js";
import { ProvisionError } from "../errors.js";
import type { Answers, CsrSubject, HelloAnswer } from "../protocol/index.js";
import type { DeviceSession } from "../session/index.js";
import { keyStoreName, keyTypeName } from "./names.js";
import {
  KEY_STORE_NAMES,
  KEY_TYPE_NAMES,
  type KeyStoreName,
  type KeyTypeName,
  type ProvisionPlan,
  type Step,
} from "./plan.js";

export interface KeyAndCsr {
  key: Answers["GENERATE_KEY"];
  csr: VerifiedCsr;
}

export async function keyAndCsr(
  step: Step,
  session: DeviceSession,
  plan: Pick<ProvisionPlan, "keyType" | "keyStore" | "force" | "subject">,
  hello: HelloAnswer,
  board: Board | undefined,
  thingName: string,
  rotating: boolean,
): Promise<KeyAndCsr> {
  const where = session.port;
  const wantedType = plan.keyType ?? (board?.keyTypes.default as KeyTypeName | undefined) ?? "ec-p256";
  const wantedStore = plan.keyStore ?? (board?.keyStore.default as KeyStoreName | undefined) ?? "nvs";
  checkDeviceOffers(hello, wantedType, wantedStore, plan, where);
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
  return { key, csr };
}

/**
 * What HELLO says the device can do, checked before GENERATE_KEY: a store or
 * key type it lacks was refused by the device with numbers ("key store 1 not
 * supported: this board has 5"); here it is named, and nothing is changed.
 */
function checkDeviceOffers(
  hello: HelloAnswer,
  type: KeyTypeName,
  store: KeyStoreName,
  plan: Pick<ProvisionPlan, "keyType" | "keyStore">,
  where: string,
): void {
  const device = `device ${hello.deviceId} (board ${hello.boardId})`;
  if (!hello.keyStores.includes(KEY_STORE_NAMES[store])) {
    const has = hello.keyStores.map(keyStoreName).join(", ");
    throw new ProvisionError("DEVICE_MISMATCH", `${device} keeps keys in ${has}, not in ${store}`, {
      where,
      hint: `${plan.keyStore ? "give --key-store" : "set keyStore to"} one of: ${has} (or render the firmware with the store you want); nothing was changed on the device`,
      details: { keyStores: hello.keyStores.map(keyStoreName) },
    });
  }
  if (!hello.keyTypes.includes(KEY_TYPE_NAMES[type])) {
    const has = hello.keyTypes.map(keyTypeName).join(", ");
    throw new ProvisionError("DEVICE_MISMATCH", `${device} makes ${has} keys, not ${type}`, {
      where,
      hint: `${plan.keyType ? "give --key-type" : "set keyType to"} one of: ${has}; nothing was changed on the device`,
      details: { keyTypes: hello.keyTypes.map(keyTypeName) },
    });
  }
}
