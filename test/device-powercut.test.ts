/**
 * Power cuts: the device (the twin, the idf-linux device on ESP-IDF v5 and
 * v6: real NVS on its flash file, and the chip image on the emulated
 * ESP32-C3: NVS on its emulated SPI flash, QEMU killed) is SIGKILLed at
 * random moments while the host writes and commits a new credential set (50
 * times each, 12 on the slower emulated chip), and at the moments the host
 * has sent a WRITE_CREDENTIALS chunk and the COMMIT; after each cut it is
 * started again on the same state dir and STATUS must show one whole
 * committed set, the old or the new one, never a mix (digest, fields and
 * generation agree).
 */
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type CredentialSet,
  DEVICE_STATE,
  encodeRequest,
  KEY_TYPE,
  type StatusAnswer,
  sha256,
} from "../src/protocol/index.js";
import {
  CHIP_IMAGE_BUILD_TIMEOUT_MS,
  DEVICE_KINDS,
  type DeviceKind,
  EMULATED_CHIP_KINDS,
} from "./device-kinds.test-helper.js";
import { openTwinSession, TestCa, tempDir } from "./twin.test-helper.js";

const CUTS = 50;
let base: { path: string; remove: () => Promise<void> };
beforeAll(async () => {
  base = await tempDir("twin-powercut-");
});
afterAll(async () => {
  await base.remove();
});

interface Known {
  set: CredentialSet;
  digest: Buffer;
  generation: number;
}

function expectWholeSet(status: StatusAnswer, candidates: Known[]): Known {
  expect(status.state).toBe(DEVICE_STATE.PROVISIONED);
  const match = candidates.find((c) => status.setDigest?.equals(c.digest));
  expect(
    match,
    `set digest ${status.setDigest?.toString("hex")} is neither the old nor the new set`,
  ).toBeDefined();
  const m = match as Known;
  expect(status.thingName).toBe(m.set.thingName);
  expect(status.topic).toBe(m.set.topic);
  expect(status.endpoint).toBe(m.set.endpoint);
  expect(status.mqttPort).toBe(m.set.mqttPort);
  expect(status.certSha256?.equals(sha256(Buffer.from(m.set.certificatePem)))).toBe(true);
  expect(status.generation).toBe(m.generation);
  expect(status.stagedLength).toBeUndefined();
  return m;
}

/** Each boot of the emulated chip takes about a second (and a key a few): fewer cuts there. */
const cutsFor = (kind: DeviceKind) => (EMULATED_CHIP_KINDS.includes(kind) ? 12 : CUTS);

describe.each([...DEVICE_KINDS, ...EMULATED_CHIP_KINDS])("$name", (kind) => {
  beforeAll(() => kind.build(), CHIP_IMAGE_BUILD_TIMEOUT_MS);

  it(`keeps the old or the new committed set across ${cutsFor(kind)} power cuts during WRITE_CREDENTIALS/COMMIT`, async () => {
    const stateDir = join(base.path, `flash-${kind.name.replace(/\W+/g, "-")}`);
    const ca = await TestCa.create(base.path);
    const startTwin = ({ stateDir: dir }: { stateDir: string }) => kind.start(dir);

    // provision generation 1
    let twin = await startTwin({ stateDir });
    let session = await openTwinSession(twin);
    await session.hello();
    await session.generateKey({ keyType: KEY_TYPE.EC_P256, keyStore: kind.keyStore });
    const cert = await ca.signCsr(await session.getCsr({ CN: "powercut" }));
    const makeSet = (i: number): CredentialSet => ({
      certificatePem: cert,
      rootCaPem: ca.certPem.repeat(1 + (i % 3)), // 1..3 roots: one to several chunks
      endpoint: `broker-${i}.example.test`,
      mqttPort: 8000 + i,
      thingName: `thing-${i}`,
      topic: `things/thing-${i}/counter${"/x".repeat(i % 7)}`,
      publishIntervalMs: 1000 + i,
    });
    const digestOf = (s: CredentialSet) => sha256(encodeRequest("WRITE_CREDENTIALS", s));
    let t0 = performance.now();
    const staged = await session.writeCredentials(makeSet(0));
    expect(staged.digest.equals(digestOf(makeSet(0)))).toBe(true);
    await session.commit();
    const writeCommitMs = performance.now() - t0;
    let committed: Known = { set: makeSet(0), digest: digestOf(makeSet(0)), generation: 1 };
    await session.close();
    await twin.kill("SIGKILL");

    const outcomes = { old: 0, new: 0 };
    // Where the cuts fall: from before the first chunk to past the commit answer. A device that just booted
    // (and may be busy starting its app) writes slower than the warm first run, so the window follows what
    // the cuts find: wider after one that came too early, narrower after one that came too late.
    let windowMs = writeCommitMs * 1.5;
    const cuts = cutsFor(kind);
    for (let i = 1; i <= cuts; i++) {
      twin = await startTwin({ stateDir });
      session = await openTwinSession(twin, {
        timing: { WRITE_CREDENTIALS: { timeoutMs: 300 }, COMMIT: { timeoutMs: 300 } },
      });
      // what the previous cut left
      const status = await session.status();
      committed = expectWholeSet(status, [committed]);

      const next: Known = {
        set: makeSet(i),
        digest: digestOf(makeSet(i)),
        generation: committed.generation + 1,
      };
      let commitAnswered = false;
      const work = session
        .writeCredentials(next.set)
        .then(() => session.commit())
        .then(() => {
          commitAnswered = true;
        })
        .catch(() => undefined);
      const cutAtMs = Math.random() * windowMs;
      t0 = performance.now();
      while (performance.now() - t0 < cutAtMs) await new Promise((r) => setImmediate(r));
      await twin.kill("SIGKILL");
      await session.close().catch(() => undefined);
      await work;

      // power back on: one whole set, and the new one for sure if COMMIT was answered
      const after = await startTwin({ stateDir });
      const check = await openTwinSession(after);
      const seen = expectWholeSet(await check.status(), commitAnswered ? [next] : [committed, next]);
      if (seen === next) outcomes.new++;
      else outcomes.old++;
      windowMs = Math.min(Math.max(windowMs * (seen === next ? 0.85 : 1.25), 5), 5_000);
      committed = seen;
      await check.close();
      await after.kill("SIGKILL");
    }
    // the cuts landed both before and after the switch
    expect(outcomes.old).toBeGreaterThan(0);
    expect(outcomes.new).toBeGreaterThan(0);
    expect(outcomes.old + outcomes.new).toBe(cuts);
  }, 300_000);

  it("keeps a whole set when the power goes right after the host sent a WRITE_CREDENTIALS chunk, and the COMMIT", async () => {
    const stateDir = join(base.path, `targeted-${kind.name.replace(/\W+/g, "-")}`);
    const ca = await TestCa.create(base.path);
    let device = await kind.start(stateDir);
    let session = await openTwinSession(device);
    await session.hello();
    await session.generateKey({ keyType: KEY_TYPE.EC_P256, keyStore: kind.keyStore });
    const cert = await ca.signCsr(await session.getCsr({ CN: "targeted" }));
    const makeSet = (i: number): CredentialSet => ({
      certificatePem: cert,
      rootCaPem: ca.certPem.repeat(3), // several chunks
      endpoint: `target-${i}.example.test`,
      mqttPort: 9000 + i,
      thingName: `target-${i}`,
      topic: `things/target-${i}/counter`,
      publishIntervalMs: 2000 + i,
    });
    const known = (i: number, generation: number): Known => ({
      set: makeSet(i),
      digest: sha256(encodeRequest("WRITE_CREDENTIALS", makeSet(i))),
      generation,
    });
    await session.writeCredentials(makeSet(0));
    await session.commit();
    let committed = known(0, 1);
    await session.close();
    await device.kill("SIGKILL");

    // The cut comes when the session hands that frame to the port: the device is receiving it, or acting on it.
    const cutPoints = [
      { name: "WRITE_CREDENTIALS", nth: 2 },
      { name: "COMMIT", nth: 1 },
      { name: "COMMIT", nth: 1 },
    ];
    const seen: string[] = [];
    for (const [n, point] of cutPoints.entries()) {
      device = await kind.start(stateDir);
      let sent = 0;
      let cut: Promise<void> | undefined;
      session = await openTwinSession(device, {
        timing: {
          WRITE_CREDENTIALS: { timeoutMs: 300 },
          COMMIT: { timeoutMs: 300 },
          CHUNK: { timeoutMs: 300 },
        },
        trace: (t) => {
          if (t.direction !== "tx" || t.name !== point.name || cut) return;
          if (++sent === point.nth)
            cut = new Promise<void>((r) => setImmediate(r)).then(() => device.kill("SIGKILL"));
        },
      });
      expectWholeSet(await session.status(), [committed]);
      const next = known(n + 1, committed.generation + 1);
      await session
        .writeCredentials(next.set)
        .then(() => session.commit())
        .catch(() => undefined);
      expect(cut, `the cut at ${point.name} #${point.nth} happened`).toBeDefined();
      await cut;
      await session.close().catch(() => undefined);
      const after = await kind.start(stateDir);
      const check = await openTwinSession(after);
      committed = expectWholeSet(await check.status(), [committed, next]);
      seen.push(`${point.name}: ${committed === next ? "new" : "old"}`);
      await check.close();
      await after.kill("SIGKILL");
    }
    // a cut in the middle of WRITE_CREDENTIALS can never commit
    expect(seen[0]).toBe("WRITE_CREDENTIALS: old");
  }, 300_000);
});
