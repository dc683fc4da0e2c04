/**
 * Real devices over their ptys, driven by DeviceSession through
 * node-serialport: the twin, the idf-linux device (the ESP-IDF port on
 * ESP-IDF v5 and v6) and the chip image on the emulated ESP32-C3 (v5 and v6;
 * its key read back from NVS in the emulated SPI flash). Key generation and CSR for P-256 and RSA-2048 (OpenSSL
 * verifies the CSR, its key is the one the device reported and the one its
 * flash holds), a full provisioning session in which no byte from the device
 * carries the private key in any form, and (twin) typed refusals that leave
 * the state as it was.
 */
import { createPublicKey } from "node:crypto";
import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isProvisionError } from "../src/errors.js";
import {
  DEVICE_STATE,
  EVENT_CODE,
  FrameReceiver,
  KEY_STORE,
  KEY_TYPE,
  sha256,
} from "../src/protocol/index.js";
import type { DeviceSession } from "../src/session/index.js";
import { startTwin, type Twin } from "../src/twin/index.js";
import {
  CHIP_IMAGE_BUILD_TIMEOUT_MS,
  DEVICE_KINDS,
  type DeviceKind,
  EMULATED_CHIP_KINDS,
  writeKeyPem,
} from "./device-kinds.test-helper.js";
import { derToPem, openssl, opensslBuffer, openTwinSession, TestCa, tempDir } from "./twin.test-helper.js";

let base: { path: string; remove: () => Promise<void> };
let ca: TestCa;
const cleanups: (() => Promise<void>)[] = [];

beforeAll(async () => {
  base = await tempDir("twin-keys-");
  ca = await TestCa.create(base.path);
});
afterAll(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  await base.remove();
});

async function twinWithSession(
  name: string,
  kind?: DeviceKind,
): Promise<{ twin: Twin; session: DeviceSession }> {
  const stateDir = join(base.path, name);
  const twin = kind ? await kind.start(stateDir) : await startTwin({ stateDir, bootBanner: true });
  const session = await openTwinSession(twin, { recordWire: true });
  cleanups.push(async () => {
    await session.close();
    await twin.stop();
  });
  return { twin, session };
}

/** Hex blocks after `label:` in `openssl pkey -text` output, as bytes without leading zeros. */
function textField(text: string, label: string): Buffer {
  const lines = text.split("\n");
  const start = lines.findIndex((l) => l.trim() === `${label}:`);
  expect(start, `openssl text has ${label}`).toBeGreaterThanOrEqual(0);
  let hex = "";
  for (const l of lines.slice(start + 1)) {
    if (!/^\s+[0-9a-f:]+$/.test(l)) break;
    hex += l.trim().replaceAll(":", "");
  }
  let bytes = Buffer.from(hex, "hex");
  while (bytes.length > 0 && bytes[0] === 0) bytes = bytes.subarray(1);
  return bytes;
}

/** Every form of the private key that must never be sent, extracted from the device's key with openssl. */
async function secretForms(keyFile: string, rsa: boolean): Promise<{ name: string; bytes: Buffer }[]> {
  const pem = await readFile(keyFile, "utf8");
  const forms = [
    { name: "key file DER", bytes: await opensslBuffer(["pkey", "-in", keyFile, "-outform", "DER"]) },
    {
      name: "PKCS#8 DER",
      bytes: await opensslBuffer(["pkcs8", "-topk8", "-nocrypt", "-in", keyFile, "-outform", "DER"]),
    },
    { name: "PEM body", bytes: Buffer.from(pem.split("\n").slice(1, 3).join("")) },
  ];
  const text = (await openssl(["pkey", "-in", keyFile, "-text", "-noout"])).stdout;
  if (rsa) {
    forms.push({ name: "RSA private exponent", bytes: textField(text, "privateExponent") });
    forms.push({ name: "RSA prime1", bytes: textField(text, "prime1") });
    forms.push({ name: "RSA prime2", bytes: textField(text, "prime2") });
  } else {
    forms.push({ name: "EC private scalar", bytes: textField(text, "priv") });
  }
  for (const f of forms) expect(f.bytes.length, f.name).toBeGreaterThanOrEqual(30);
  return forms;
}

const SUBJECT = { C: "JP", ST: "Tokyo", O: "株式会社テスト", OU: "Devices", CN: "twin-device" };

/** HELLO until the device answers again after a restart (a re-executed idf-linux device takes a moment). */
async function helloAfterRestart(session: DeviceSession) {
  const until = Date.now() + 10_000;
  for (;;) {
    try {
      return await session.hello();
    } catch (e) {
      if (Date.now() > until) throw e;
    }
  }
}

describe.each(
  [...DEVICE_KINDS, ...EMULATED_CHIP_KINDS].flatMap((kind) => [
    { kind, label: "P-256", keyType: KEY_TYPE.EC_P256, rsa: false },
    { kind, label: "RSA-2048", keyType: KEY_TYPE.RSA_2048, rsa: true },
  ]),
)("$kind.name $label", ({ kind, label, keyType, rsa }) => {
  beforeAll(() => kind.build(), CHIP_IMAGE_BUILD_TIMEOUT_MS);

  it("makes the key on the device, signs a CSR OpenSSL verifies, and never sends the private key", async () => {
    const name = `keys-${kind.name.replace(/\W+/g, "-")}-${label}`;
    const { twin, session } = await twinWithSession(name, kind);
    const events: number[] = [];
    session.on("event", (e) => events.push(e.code));

    const hello = await session.hello();
    expect(hello.deviceId).toBe(twin.deviceId);
    expect(hello.state).toBe(DEVICE_STATE.EMPTY);
    expect(hello.keyStores).toEqual([kind.keyStore]);

    const gen = await session.generateKey({ keyType, keyStore: kind.keyStore });
    expect(gen.created).toBe(true);
    expect(gen.keyType).toBe(keyType);
    const csrDer = await session.getCsr(SUBJECT);

    // OpenSSL checks the proof of possession and reads the UTF-8 subject back
    const csrFile = join(base.path, `${name}.csr`);
    await import("node:fs/promises").then((fs) =>
      fs.writeFile(csrFile, derToPem(csrDer, "CERTIFICATE REQUEST")),
    );
    const verify = await openssl([
      "req",
      "-in",
      csrFile,
      "-verify",
      "-noout",
      "-subject",
      "-nameopt",
      "utf8",
    ]);
    expect(`${verify.stdout}${verify.stderr}`).toMatch(/verify OK/);
    expect(verify.stdout).toContain("O=株式会社テスト, OU=Devices");

    // the CSR's key = the key the device reported = the key its flash holds
    const csrKeyPem = (await openssl(["req", "-in", csrFile, "-pubkey", "-noout"])).stdout;
    const csrSpki = createPublicKey(csrKeyPem).export({ type: "spki", format: "der" });
    const stored = await kind.privateKey(twin, gen.publicKey);
    const keyFile = await writeKeyPem(stored, join(base.path, `${name}.key.pem`));
    const fileSpki = createPublicKey(stored).export({ type: "spki", format: "der" });
    expect(csrSpki.equals(gen.publicKey)).toBe(true);
    expect(fileSpki.equals(gen.publicKey)).toBe(true);
    if (kind.name === "twin")
      expect((await stat(join(twin.stateDir, "key-active.pem"))).mode & 0o777).toBe(0o600);

    // finish the provisioning so the session covers every message that carries key material
    const certPem = await ca.signCsr(csrDer);
    const set = {
      certificatePem: certPem,
      rootCaPem: ca.certPem,
      endpoint: "127.0.0.1",
      mqttPort: 1, // nothing listens: the app's connection attempts are part of the captured traffic
      thingName: `thing-${label}`,
      topic: `things/${label}/counter`,
      publishIntervalMs: 60_000,
    };
    const staged = await session.writeCredentials(set);
    const committed = await session.commit();
    expect(committed.setDigest.equals(staged.digest)).toBe(true);
    const status = await session.status();
    expect(status.state).toBe(DEVICE_STATE.PROVISIONED);
    expect(status.publicKeySha256?.equals(sha256(gen.publicKey))).toBe(true);
    expect(status.thingName).toBe(set.thingName);
    const booted = new Promise<void>((done) =>
      session.on("event", (e) => {
        if (e.code === EVENT_CODE.BOOT) done();
      }),
    );
    await session.restart(50);
    await booted;
    expect((await helloAfterRestart(session)).state).toBe(DEVICE_STATE.PROVISIONED);
    expect(events).toContain(EVENT_CODE.BOOT);

    // (b) nothing the device sent contains the private key, raw or inside a frame payload
    const rx = Buffer.concat(session.wire.filter((w) => w.direction === "rx").map((w) => w.bytes));
    expect(rx.length).toBeGreaterThan(1000);
    const payloads: Buffer[] = [];
    const receiver = new FrameReceiver();
    for (const ev of [...receiver.push(rx), ...receiver.flush()])
      if (ev.kind === "frame") payloads.push(Buffer.from(ev.frame.payload));
    // Every frame the session took off the line is in the capture (HELLO, GENERATE_KEY, GET_CSR,
    // WRITE_CREDENTIALS, COMMIT, STATUS, RESTART, the BOOT event, HELLO again: 9 at least; a READY
    // event from the first boot only when the port was open in time).
    expect(payloads.length).toBe(session.stats.framesReceived);
    expect(payloads.length).toBeGreaterThanOrEqual(9);
    const everything = Buffer.concat([rx, ...payloads]);
    expect(everything.includes(gen.publicKey)).toBe(true); // the search itself works on what was sent
    for (const secret of await secretForms(keyFile, rsa)) {
      expect(everything.includes(secret.bytes), `${secret.name} found on the wire`).toBe(false);
    }
    // RSA on the emulated chip takes tens of seconds (instruction-counted time on a shared host)
  }, 300_000);
});

describe("twin commands", () => {
  it("answers wrong-state commands with typed errors and keeps its state", async () => {
    const { session } = await twinWithSession("refusals");
    await session.hello();
    const err = await session.getCsr({ CN: "x" }).catch((e: unknown) => e);
    expect(isProvisionError(err) && err.code).toBe("DEVICE_REFUSED");
    expect(String((err as Error).message)).toContain(
      "GET_CSR not valid in state EMPTY: send GENERATE_KEY first",
    );
    expect((await session.status()).state).toBe(DEVICE_STATE.EMPTY);
    await session.generateKey({ keyType: KEY_TYPE.EC_P256, keyStore: KEY_STORE.FILE });
    const again = await session.generateKey({ keyType: KEY_TYPE.EC_P384, keyStore: KEY_STORE.FILE });
    expect(again.created).toBe(false);
    expect(again.keyType).toBe(KEY_TYPE.EC_P256);
    const commit = await session.commit().catch((e: unknown) => e);
    expect(String((commit as Error).message)).toContain("COMMIT not valid in state KEYED");
    expect((await session.status()).state).toBe(DEVICE_STATE.KEYED);
  });

  it("switches baud with SET_BAUD (confirmed by PING) and factory-resets with a token", async () => {
    const { twin, session } = await twinWithSession("baud-reset");
    const hello = await session.hello();
    expect(hello.baudRates).toContain(921600);
    const switched = await session.setBaud(921600);
    expect(switched).toEqual({ baudRate: 921600, fellBack: false });
    await session.generateKey({ keyType: KEY_TYPE.EC_P256, keyStore: KEY_STORE.FILE });
    const keyFile = join(twin.stateDir, "key-active.pem");
    expect((await stat(keyFile)).isFile()).toBe(true);
    await session.factoryReset();
    expect((await session.status()).state).toBe(DEVICE_STATE.EMPTY);
    await expect(stat(keyFile)).rejects.toThrow(/ENOENT/);
  });
});
