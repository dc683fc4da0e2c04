/**
 * A device that returns a bad CSR must be refused before any cloud call.
 * The CSRs come from the real openssl CLI; the "device" is the protocol's
 * fake device (over an in-memory link) with its key and CSR replaced by
 * those, because the real firmware cannot be made to misbehave this way.
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createProgress } from "../src/commands/progress.js";
import { asProvisionError } from "../src/errors.js";
import type { Ledger } from "../src/ledger/index.js";
import type { LocalIot } from "../src/local-iot/service.js";
import type { Observer } from "../src/observer/index.js";
import { DEVICE_STATE, KEY_STORE, KEY_TYPE } from "../src/protocol/index.js";
import { provisionDevice } from "../src/provision/pipeline.js";
import type { CloudTarget } from "../src/provision/target.js";
import { FakeDevice } from "../src/session/fake-device.test-helper.js";
import { DeviceSession } from "../src/session/index.js";
import { createMemoryTransportPair } from "../src/transport/index.js";
import { type LocalCloud, openLocalCloud, testPlan } from "./local-cloud.test-helper.js";

let dir: string;
let iot: LocalIot;
let target: CloudTarget;
let observer: Observer;
let ledger: Ledger;

const openssl = (...args: string[]) =>
  execFileSync("openssl", args, { cwd: dir, stdio: ["ignore", "pipe", "pipe"] });

/** Key + CSR from openssl: returns the CSR DER and the key's SubjectPublicKeyInfo DER. */
function made(name: string, genArgs: string[]): { csr: Buffer; spki: Buffer } {
  openssl("genpkey", ...genArgs, "-out", `${name}.key`);
  openssl(
    "req",
    "-new",
    "-key",
    `${name}.key`,
    "-subj",
    "/O=refusal test/CN=fake-device-a1b2c3d4e5f6",
    "-outform",
    "DER",
    "-out",
    `${name}.der`,
  );
  openssl("pkey", "-in", `${name}.key`, "-pubout", "-outform", "DER", "-out", `${name}.spki`);
  return { csr: readFileSync(join(dir, `${name}.der`)), spki: readFileSync(join(dir, `${name}.spki`)) };
}

function cloudRequests(): number {
  return Object.values(iot.stats()).reduce((n, s) => n + s.requests, 0);
}

/** Provisions a fake device whose GENERATE_KEY answers `spki` and whose GET_CSR answers `csr`. */
async function provisionWith(spki: Buffer, csr: Buffer, keyType: number = KEY_TYPE.EC_P256) {
  const [hostSide, deviceSide] = createMemoryTransportPair();
  const device = new FakeDevice(deviceSide);
  const patched = device as unknown as Record<string, unknown>;
  patched.generateKey = async () => {
    // The fake's own bookkeeping (state KEYED, "has a key") as after a real key generation.
    device.key = { keyType, keyStore: KEY_STORE.FILE, pair: undefined as never, spki };
    device.state = DEVICE_STATE.KEYED;
    return { keyType, keyStore: KEY_STORE.FILE, publicKey: spki, created: true };
  };
  patched.csr = async () => csr;
  const session = new DeviceSession(hostSide);
  try {
    await provisionDevice(
      { session, target, ledger, observer, progress: createProgress({ quiet: true }) },
      // The fake device's HELLO lists the file store only, which the host now checks before GENERATE_KEY.
      testPlan({ subject: { O: "refusal test" }, firstPublishTimeoutMs: 1500, keyStore: "file" }),
    );
    return undefined;
  } catch (e) {
    const pe = asProvisionError(e);
    return pe;
  } finally {
    await session.close();
    await device.stop();
  }
}

let cloud: LocalCloud;

beforeAll(async () => {
  cloud = await openLocalCloud("provision-refusal-");
  ({ dir, iot, target, observer, ledger } = cloud);
}, 120_000);

afterAll(async () => {
  await cloud?.close();
});

describe("CSR checks stop a bad device before any cloud call", () => {
  it("the unpatched fake device provisions (so the refusals below are the CSR's doing)", async () => {
    const good = made("good", ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"]);
    const before = cloudRequests();
    const err = await provisionWith(good.spki, good.csr);
    // Registration happens; the fake device cannot connect to MQTT, so the run ends at verification.
    expect(err?.code).toBe("VERIFY_TIMEOUT");
    expect(cloudRequests()).toBeGreaterThan(before);
  }, 30_000);

  const cases: {
    name: string;
    build: () => { spki: Buffer; csr: Buffer; keyType?: number };
    message: RegExp;
  }[] = [
    {
      name: "a bad signature",
      build: () => {
        const m = made("badsig", ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"]);
        const csr = Buffer.from(m.csr);
        csr[csr.length - 1] = (csr[csr.length - 1] ?? 0) ^ 0x01;
        return { spki: m.spki, csr };
      },
      message: /signature/i,
    },
    {
      name: "a public key that differs from the device's key",
      build: () => {
        const a = made("key-a", ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"]);
        const b = made("key-b", ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"]);
        return { spki: a.spki, csr: b.csr };
      },
      message: /public key|differs|not the device/i,
    },
    {
      name: "RSA-1024",
      build: () => ({
        ...made("rsa1024", ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:1024"]),
        keyType: KEY_TYPE.RSA_2048,
      }),
      message: /1024/,
    },
    {
      name: "secp256k1",
      build: () => made("k1", ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:secp256k1"]),
      message: /secp256k1|curve/i,
    },
  ];

  for (const c of cases) {
    it(`refuses ${c.name} with CSR_REJECTED and makes no cloud call`, async () => {
      const { spki, csr, keyType } = c.build();
      const before = cloudRequests();
      const err = await provisionWith(spki, csr, keyType);
      expect(err?.code).toBe("CSR_REJECTED");
      expect(err?.message).toMatch(c.message);
      expect(cloudRequests()).toBe(before);
    });
  }
});
