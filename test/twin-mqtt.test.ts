/**
 * The twin's application against a real mosquitto with mutual TLS: after
 * provisioning and RESTART it connects with client id = thing name,
 * publishes {"counter": N} from 0 (QoS 1), reports EVENTs over the pty,
 * and after the broker goes away it reconnects with backoff and publishes
 * the counters it queued while offline.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { readFile, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { join } from "node:path";
import mqtt from "mqtt";
import { afterAll, beforeAll, expect, it } from "vitest";
import { DEVICE_STATE, type DeviceEvent, EVENT_CODE, KEY_STORE, KEY_TYPE } from "../src/protocol/index.js";
import { startTwin } from "../src/twin/index.js";
import { openTwinSession, TestCa, tempDir } from "./twin.test-helper.js";

const MOSQUITTO = "/usr/sbin/mosquitto";
let base: { path: string; remove: () => Promise<void> };
const cleanups: (() => Promise<void>)[] = [];

beforeAll(async () => {
  base = await tempDir("twin-mqtt-");
});
afterAll(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
  await base.remove();
});

async function freePort(): Promise<number> {
  return new Promise((done) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => done(port));
    });
  });
}

async function startBroker(conf: string, port: number): Promise<ChildProcess> {
  const child = spawn(MOSQUITTO, ["-c", conf], { stdio: ["ignore", "ignore", "pipe"] });
  let log = "";
  child.stderr?.on("data", (b: Buffer) => {
    log += b.toString();
  });
  const deadline = Date.now() + 5000;
  while (!/Opening ipv4 listen socket on port/.test(log)) {
    if (child.exitCode !== null || Date.now() > deadline)
      throw new Error(`mosquitto did not start on ${port}: ${log}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return child;
}

async function stopBroker(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const gone = new Promise((r) => child.once("exit", r));
  child.kill("SIGTERM");
  await gone;
}

async function until(what: string, cond: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

it("connects with mTLS, publishes the counter, and republishes what it queued while the broker was down", async () => {
  const ca = await TestCa.create(base.path);
  const server = await ca.issueKeyPair("server", "/CN=localhost", "IP:127.0.0.1,DNS:localhost");
  const observerPair = await ca.issueKeyPair("observer", "/CN=observer");
  const port = await freePort();
  const conf = join(base.path, "mosquitto.conf");
  await writeFile(
    conf,
    [
      `listener ${port} 127.0.0.1`,
      `cafile ${join(base.path, "ca.pem")}`,
      `certfile ${server.cert}`,
      `keyfile ${server.key}`,
      "require_certificate true",
      "use_identity_as_username true",
      "allow_anonymous true",
      "persistence false",
      "user root", // as root, mosquitto would switch to user mosquitto and lose access to the test's key files
      "log_dest stderr",
      "",
    ].join("\n"),
  );
  let broker = await startBroker(conf, port);
  cleanups.push(() => stopBroker(broker));

  const twin = await startTwin({ stateDir: join(base.path, "twin"), bootBanner: true });
  const session = await openTwinSession(twin);
  cleanups.push(async () => {
    await session.close();
    await twin.stop();
  });
  const events: DeviceEvent[] = [];
  const logs: string[] = [];
  session.on("event", (e) => events.push(e));
  session.on("log", (l) => logs.push(l));

  await session.hello();
  await session.generateKey({ keyType: KEY_TYPE.EC_P256, keyStore: KEY_STORE.FILE });
  const thing = `twin-${twin.deviceId}`;
  const topic = `things/${thing}/counter`;
  const cert = await ca.signCsr(await session.getCsr({ CN: thing }));
  await session.writeCredentials({
    certificatePem: cert,
    rootCaPem: ca.certPem,
    endpoint: "127.0.0.1",
    mqttPort: port,
    thingName: thing,
    topic,
    publishIntervalMs: 300,
  });
  await session.commit();

  // the observer subscribes before the device restarts
  const observer = await mqtt.connectAsync(`mqtts://127.0.0.1:${port}`, {
    clientId: "observer",
    ca: ca.certPem,
    cert: await readFile(observerPair.cert),
    key: await readFile(observerPair.key),
    rejectUnauthorized: true,
    reconnectPeriod: 200,
  });
  cleanups.push(() => observer.endAsync());
  const received: string[] = [];
  observer.on("message", (t, payload) => {
    if (t === topic) received.push(payload.toString());
  });
  await observer.subscribeAsync(topic, { qos: 1 });

  await session.restart(50);
  await until("counters 0 and 1 at the observer", () => received.includes('{"counter": 1}'), 10_000);
  expect(received[0]).toBe('{"counter": 0}');
  expect((await session.status()).state).toBe(DEVICE_STATE.PROVISIONED);
  const codes = () => events.map((e) => e.code);
  expect(codes()).toContain(EVENT_CODE.MQTT_CONNECTED);
  expect(events.find((e) => e.code === EVENT_CODE.MQTT_CONNECTED)?.text).toBe(thing);
  expect(events.some((e) => e.code === EVENT_CODE.PUBLISHED && e.value === 0)).toBe(true);
  expect(logs.some((l) => /^I \(\d+\) mqtt: connected to 127\.0\.0\.1:\d+ as /.test(l))).toBe(true);

  // broker down: the device notices, queues counters, and comes back with backoff
  await stopBroker(broker);
  await until("MQTT_DISCONNECTED", () => codes().includes(EVENT_CODE.MQTT_DISCONNECTED), 5000);
  const publishedBefore = events.filter((e) => e.code === EVENT_CODE.PUBLISHED).map((e) => e.value ?? -1);
  const lastBefore = Math.max(...publishedBefore);
  await new Promise((r) => setTimeout(r, 1200));
  broker = await startBroker(conf, port);
  await until(
    "second MQTT_CONNECTED",
    () => codes().filter((c) => c === EVENT_CODE.MQTT_CONNECTED).length >= 2,
    15_000,
  );
  await until(
    "queued counters acknowledged",
    () => events.filter((e) => e.code === EVENT_CODE.PUBLISHED && (e.value ?? 0) > lastBefore + 3).length > 0,
    5000,
  );
  const after = new Set(events.filter((e) => e.code === EVENT_CODE.PUBLISHED).map((e) => e.value));
  for (let n = lastBefore + 1; n <= lastBefore + 3; n++)
    expect(after.has(n), `counter ${n} published`).toBe(true);
  expect(logs.some((l) => /mqtt: offline: counter \d+ queued/.test(l))).toBe(true);
}, 45_000);
