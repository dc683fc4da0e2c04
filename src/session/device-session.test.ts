import "reflect-metadata";
import { webcrypto } from "node:crypto";
import * as x509 from "@peculiar/x509";
import { afterEach, describe, expect, it, vi } from "vitest";
import { rejection } from "../errors.test-helper.js";
import {
  type CredentialSet,
  DEVICE_STATE,
  EVENT_CODE,
  FLAG_CHUNK,
  FrameReceiver,
  KEY_STORE,
  KEY_TYPE,
  MSG,
  sha256,
} from "../protocol/index.js";
import { createMemoryTransportPair } from "../transport/index.js";
import { DeviceSession, type DeviceSessionOptions, type TimingKey } from "./device-session.js";
import { FakeDevice, type FakeDeviceOptions } from "./fake-device.test-helper.js";

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

/** Section 6 timing scaled down so failure paths take milliseconds, attempts unchanged. */
const FAST: DeviceSessionOptions["timing"] = Object.fromEntries(
  (
    [
      "HELLO",
      "STATUS",
      "PING",
      "SET_BAUD",
      "GENERATE_KEY",
      "GET_CSR",
      "WRITE_CREDENTIALS",
      "COMMIT",
      "RESTART",
      "LOCK",
      "FACTORY_RESET",
      "CHUNK",
    ] as TimingKey[]
  ).map((k) => [k, { timeoutMs: 150 }]),
);

const pem = (n: number) =>
  `-----BEGIN CERTIFICATE-----\n${"QUJD".repeat(n / 4)}\n-----END CERTIFICATE-----\n`;
const SET: CredentialSet = {
  certificatePem: pem(1300),
  rootCaPem: pem(1188) + pem(656),
  endpoint: "a1b2c3d4e5f6g7-ats.iot.eu-west-1.amazonaws.com",
  mqttPort: 8883,
  thingName: "esp32-a1b2c3d4e5f6",
  topic: "devices/esp32-a1b2c3d4e5f6/counter",
  publishIntervalMs: 5000,
  wifiSsid: "lab",
  wifiPassword: "secret",
};

const open: { session: DeviceSession; device: FakeDevice }[] = [];
afterEach(async () => {
  for (const o of open.splice(0)) {
    await o.session.close();
    await o.device.stop();
  }
});

function setup(device: FakeDeviceOptions = {}, session: DeviceSessionOptions = {}) {
  const [host, dev] = createMemoryTransportPair();
  const d = new FakeDevice(dev, device);
  const s = new DeviceSession(host, { timing: FAST, recordWire: true, ...session });
  open.push({ session: s, device: d });
  return { session: s, device: d, host, dev };
}

/** Decodes the recorded host->device bytes back into frames. */
function txFrames(s: DeviceSession) {
  const r = new FrameReceiver();
  return s.wire
    .filter((w) => w.direction === "tx")
    .flatMap((w) => r.push(w.bytes).flatMap((e) => (e.kind === "frame" ? [e.frame] : [])));
}

describe("DeviceSession against the fake device", () => {
  it("runs a whole provisioning: hello, key, CSR, chunked credentials, commit, status", async () => {
    const { session, device } = setup({ maxFrame: 256 });
    await device.boot();
    const hello = await session.hello();
    expect(hello).toMatchObject({
      version: 1,
      deviceId: "a1b2c3d4e5f6",
      maxFrame: 256,
      state: DEVICE_STATE.EMPTY,
    });
    expect(session.maxFrame).toBe(256);
    const key = await session.generateKey({ keyType: KEY_TYPE.EC_P256, keyStore: KEY_STORE.FILE });
    expect(key.created).toBe(true);
    const der = await session.getCsr({ C: "JP", O: "株式会社テスト", CN: "esp32-a1b2c3d4e5f6" });
    const csr = new x509.Pkcs10CertificateRequest(der);
    expect(await csr.verify()).toBe(true);
    expect(Buffer.from(csr.publicKey.rawData).equals(key.publicKey)).toBe(true);
    expect(csr.subjectName.getField("O")).toEqual(["株式会社テスト"]);

    const staged = await session.writeCredentials(SET);
    expect(device.staged && sha256(device.staged).equals(staged.digest)).toBe(true);
    const chunks = txFrames(session).filter((f) => f.type === MSG.WRITE_CREDENTIALS);
    expect(chunks.length).toBeGreaterThan(10);
    expect(chunks.every((f) => f.flags === FLAG_CHUNK && f.payload.length + 9 <= 256)).toBe(true);

    const c = await session.commit();
    expect(c.generation).toBe(1);
    expect(c.setDigest.equals(staged.digest)).toBe(true);
    const st = await session.status();
    expect(st).toMatchObject({ state: DEVICE_STATE.PROVISIONED, thingName: SET.thingName, generation: 1 });
    expect(st.publicKeySha256?.equals(sha256(key.publicKey))).toBe(true);
    // The second GENERATE_KEY reports the existing key instead of making one.
    expect((await session.generateKey({ keyType: KEY_TYPE.EC_P384, keyStore: KEY_STORE.FILE })).created).toBe(
      false,
    );
    expect(device.executions.GENERATE_KEY).toBe(2);
    expect(device.key?.spki.equals(key.publicKey)).toBe(true);
  });

  it("assumes 256 before HELLO and the device's max_frame after", async () => {
    const { session } = setup({ maxFrame: 2048 });
    await session.generateKey({ keyType: KEY_TYPE.EC_P256, keyStore: KEY_STORE.FILE });
    await session.writeCredentials(SET);
    const before = txFrames(session).filter((f) => f.type === MSG.WRITE_CREDENTIALS);
    expect(before.every((f) => f.payload.length + 9 <= 256)).toBe(true);
    await session.hello();
    await session.writeCredentials(SET);
    const after = txFrames(session)
      .filter((f) => f.type === MSG.WRITE_CREDENTIALS)
      .slice(before.length);
    expect(after.length).toBeLessThan(before.length);
    expect(after.some((f) => f.payload.length + 9 > 256)).toBe(true);
  });

  it("retries with the same frame and the device does not execute a retried GENERATE_KEY twice", async () => {
    const { session, device } = setup({ mode: "drops-first-response" });
    await session.hello();
    const k = await session.generateKey({ keyType: KEY_TYPE.EC_P256, keyStore: KEY_STORE.FILE, force: true });
    expect(k.created).toBe(true);
    expect(device.executions.GENERATE_KEY).toBe(1);
    expect(session.stats.retries).toBeGreaterThanOrEqual(2);
    const sent = txFrames(session).filter((f) => f.type === MSG.GENERATE_KEY);
    expect(sent.length).toBe(2);
    expect(sent[0]?.seq).toBe(sent[1]?.seq);
    // A chunked write where every chunk's first answer is lost still stages exactly once.
    const w = await session.writeCredentials(SET);
    expect(device.executions.WRITE_CREDENTIALS).toBe(1);
    expect(w.stagedLength).toBe(device.staged?.length);
  });

  it("restarts a chunked write at offset 0 when the device lost the reassembly (ERR_CHUNK)", async () => {
    let device: FakeDevice | undefined;
    let dropped = false;
    const s = setup(
      { maxFrame: 256 },
      {
        trace: (t) => {
          if (
            t.direction === "tx" &&
            t.frame.flags === FLAG_CHUNK &&
            t.frame.payload.readUInt32BE(0) > 600 &&
            !dropped
          ) {
            dropped = true;
            device?.dropReassembly();
          }
        },
      },
    );
    device = s.device;
    await s.session.hello();
    await s.session.generateKey({ keyType: KEY_TYPE.EC_P256, keyStore: KEY_STORE.FILE });
    const w = await s.session.writeCredentials(SET);
    expect(dropped).toBe(true);
    expect(device.executions.WRITE_CREDENTIALS).toBe(1);
    expect(device.staged && sha256(device.staged).equals(w.digest)).toBe(true);
    const firstChunks = txFrames(s.session).filter(
      (f) => f.flags === FLAG_CHUNK && f.payload.readUInt32BE(0) === 0,
    );
    expect(firstChunks.length).toBe(2);
  });

  it("drops a late answer to an earlier attempt and pairs the next request correctly", async () => {
    const { session, device } = setup({ delayMs: { GENERATE_KEY: 250 } });
    await session.hello();
    const k = await session.generateKey({ keyType: KEY_TYPE.EC_P256, keyStore: KEY_STORE.FILE });
    expect(k.created).toBe(true);
    expect(device.executions.GENERATE_KEY).toBe(1);
    // The retry was answered from the device's cache; the first answer came late.
    await new Promise((r) => setTimeout(r, 100));
    expect(session.stats.lateResponses).toBeGreaterThanOrEqual(1);
    expect((await session.status()).state).toBe(DEVICE_STATE.KEYED);
  });

  it("names command and port and carries the device log when the device is silent", async () => {
    const { session, device } = setup({ mode: "silent" });
    await device.boot();
    const started = Date.now();
    const e = await rejection(session.hello());
    expect(Date.now() - started).toBeLessThan(2000);
    expect(e.code).toBe("DEVICE_SILENT");
    expect(e.message).toMatch(/^HELLO: no answer .*3 attempts of 150 ms/);
    expect(e.where).toBe("memory:host");
    expect(e.hint).toMatch(/provisioning firmware/);
    expect(e.deviceLog.some((l) => l.includes("app: counter="))).toBe(true);
    expect(e.deviceLog).toContain("ets Jun  8 2016 00:22:57");
  });

  it("reports garbage as DEVICE_PROTOCOL with a baud hint", async () => {
    const { session } = setup({ mode: "garbage" });
    const e = await rejection(session.status());
    expect(e.code).toBe("DEVICE_PROTOCOL");
    expect(e.message).toMatch(/^STATUS: device sent only unreadable data/);
    expect(e.hint).toMatch(/baud/);
    expect(e.where).toBe("memory:host");
  });

  it("reports an unknown protocol version as DEVICE_PROTOCOL naming the version", async () => {
    const { session } = setup({ mode: "wrong-version" });
    const e = await rejection(session.hello());
    expect(e.code).toBe("DEVICE_PROTOCOL");
    expect(e.message).toMatch(/protocol version 2/);
    expect(e.details.deviceVersion).toBe(2);
  });

  it("turns a device error status into DEVICE_REFUSED with the device's code and text", async () => {
    const { session } = setup();
    await session.hello();
    const e = await rejection(session.getCsr({ CN: "x" }));
    expect(e.code).toBe("DEVICE_REFUSED");
    expect(e.message).toBe("GET_CSR refused by device: ERR_NO_KEY: no key: send GENERATE_KEY first");
    expect(e.details.deviceError).toBe("ERR_NO_KEY");
    expect(e.where).toBe("memory:host");
    const wrong = await rejection(session.commit());
    expect(wrong.details.deviceError).toBe("ERR_WRONG_STATE");
    expect(wrong.message).toMatch(/state is EMPTY/);
  });

  it("locks, refuses afterwards, and factory-resets in two steps before locking", async () => {
    const { session, device } = setup();
    await session.hello();
    await session.generateKey({ keyType: KEY_TYPE.EC_P256, keyStore: KEY_STORE.FILE });
    await session.factoryReset();
    expect(device.state).toBe(DEVICE_STATE.EMPTY);
    expect(device.executions.FACTORY_RESET).toBe(2);
    await session.generateKey({ keyType: KEY_TYPE.EC_P256, keyStore: KEY_STORE.FILE });
    await session.writeCredentials(SET);
    await session.commit();
    await session.lock();
    const e = await rejection(session.factoryReset());
    expect(e.details.deviceError).toBe("ERR_LOCKED");
    expect((await session.status()).state).toBe(DEVICE_STATE.LOCKED);
  });

  it("emits device events and log lines, keeps the last 50 lines, traces frames", async () => {
    const traced: string[] = [];
    const { session, device } = setup({}, { trace: (t) => traced.push(`${t.direction} ${t.name}`) });
    const events: number[] = [];
    const lines: string[] = [];
    session.on("event", (e) => events.push(e.code));
    session.on("log", (l) => lines.push(l));
    await device.boot();
    for (let i = 0; i < 60; i++) await device.log(`I (${i}) test: line ${i}`);
    await device.sendEvent({ code: EVENT_CODE.PUBLISHED, value: 7 });
    await session.ping(Buffer.from("abc"));
    expect(events).toEqual([EVENT_CODE.BOOT, EVENT_CODE.PUBLISHED]);
    expect(lines.length).toBe(64);
    expect(session.deviceLog.length).toBe(50);
    expect(session.deviceLog.at(-1)).toBe("I (59) test: line 59");
    expect(traced).toEqual(["rx EVENT", "rx EVENT", "tx PING", "rx PING"]);
  });

  it("restarts: the device reboots, discards staging and says BOOT", async () => {
    const { session, device } = setup();
    await session.hello();
    await session.generateKey({ keyType: KEY_TYPE.EC_P256, keyStore: KEY_STORE.FILE });
    await session.writeCredentials(SET);
    const booted = new Promise<void>((r) => session.on("event", (e) => e.code === EVENT_CODE.BOOT && r()));
    await session.restart(10);
    await booted;
    expect(device.state).toBe(DEVICE_STATE.KEYED);
    expect((await session.status()).stagedLength).toBeUndefined();
  });

  it("switches baud and confirms with a PING", async () => {
    const { session, host, dev } = setup();
    await session.hello();
    expect(await session.setBaud(921600)).toEqual({ baudRate: 921600, fellBack: false });
    expect(host.baudRate).toBe(921600);
    expect(dev.baudRate).toBe(921600);
    const e = await rejection(session.setBaud(12345));
    expect(e.details.deviceError).toBe("ERR_BAD_BAUD");
  });

  it("goes back to the boot rate after RESTART, as the chip does", async () => {
    const { session, host, dev } = setup();
    await session.hello();
    await session.setBaud(921600);
    const booted = new Promise<void>((r) => session.on("event", (e) => e.code === EVENT_CODE.BOOT && r()));
    await session.restart(10);
    await booted;
    expect(dev.baudRate).toBe(115200);
    expect(host.baudRate).toBe(115200);
    // Both ends agree again: a command after the restart goes through.
    expect((await session.hello()).deviceId).toMatch(/^[0-9a-f]{12}$/);
  });

  it("falls back to the old baud rate when the PING at the new one fails", async () => {
    const { session, host, dev } = setup({ followBaudSwitch: false });
    await session.hello();
    const r = await session.setBaud(921600);
    expect(r).toEqual({ baudRate: 115200, fellBack: true });
    expect(host.baudRate).toBe(115200);
    expect(dev.baudRate).toBe(115200);
    await session.ping();
  });

  it("fails an outstanding request with PORT_IO when the link closes", async () => {
    const { session, dev } = setup({ delayMs: { GENERATE_KEY: 100 } });
    const p = session.generateKey({ keyType: KEY_TYPE.EC_P256, keyStore: KEY_STORE.FILE });
    setTimeout(() => void dev.close(), 20);
    const e = await rejection(p);
    expect(e.code).toBe("PORT_IO");
    expect(e.where).toBe("memory:host");
  });

  it("queues concurrent commands: one request outstanding at a time", async () => {
    const { session } = setup();
    const results = await Promise.all([
      session.hello(),
      session.status(),
      session.ping(Buffer.from("x")),
      session.status(),
    ]);
    expect(results[0]).toMatchObject({ version: 1 });
    const seqs = txFrames(session).map((f) => f.seq);
    expect(seqs).toEqual([1, 2, 3, 4]);
  });
});

describe("waits for a slow device", () => {
  afterEach(() => vi.useRealTimers());

  /** A device that never answers, the session's own timing for GENERATE_KEY, and a clock the test moves. */
  async function silentKeygen(keyType: number, raise?: Parameters<DeviceSession["raiseTimeouts"]>[0]) {
    const { GENERATE_KEY: _, ...others } = FAST ?? {};
    const { session } = setup({ mode: "silent" }, { timing: others });
    if (raise) session.raiseTimeouts(raise);
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    const outcome = rejection(session.generateKey({ keyType, keyStore: KEY_STORE.FILE }));
    const sent = () => txFrames(session).filter((f) => f.type === MSG.GENERATE_KEY).length;
    return { session, outcome, sent };
  }

  it("gives RSA-2048 key generation 120 s per attempt and EC 30 s, and says how long it waited", async () => {
    const rsa = await silentKeygen(KEY_TYPE.RSA_2048);
    await vi.advanceTimersByTimeAsync(119_000);
    expect(rsa.sent()).toBe(1);
    await vi.advanceTimersByTimeAsync(2_000);
    expect(rsa.sent()).toBe(2); // the retry: the same frame, answered from the device's cache if it was busy
    await vi.advanceTimersByTimeAsync(120_000);
    const e = await rsa.outcome;
    expect(e.code).toBe("DEVICE_SILENT");
    expect(e.message).toMatch(/^GENERATE_KEY: no answer .* after waiting 240 s \(2 attempts of 120000 ms\)/);

    const ec = await silentKeygen(KEY_TYPE.EC_P256);
    await vi.advanceTimersByTimeAsync(29_000);
    expect(ec.sent()).toBe(1);
    await vi.advanceTimersByTimeAsync(2_000);
    expect(ec.sent()).toBe(2);
    await vi.advanceTimersByTimeAsync(30_000);
    expect((await ec.outcome).message).toMatch(/after waiting 60 s/);
  });

  it("lets a board or --device-timeout raise a wait, never lower it", async () => {
    const raised = await silentKeygen(KEY_TYPE.EC_P256, { GENERATE_KEY: 45_000, BOOT: 25_000 });
    expect(raised.session.bootTimeoutMs).toBe(25_000);
    await vi.advanceTimersByTimeAsync(44_000);
    expect(raised.sent()).toBe(1);
    await vi.advanceTimersByTimeAsync(2_000);
    expect(raised.sent()).toBe(2);
    await vi.advanceTimersByTimeAsync(45_000);
    await raised.outcome;

    const lowered = await silentKeygen(KEY_TYPE.RSA_2048, { GENERATE_KEY: 1_000, BOOT: 1_000 });
    expect(lowered.session.bootTimeoutMs).toBe(10_000);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(lowered.sent()).toBe(1); // still the key type's 120 s
    await vi.advanceTimersByTimeAsync(200_000);
    await lowered.outcome;
  });
});
