import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import mqtt, { type MqttClient } from "mqtt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { rejection } from "../src/errors.test-helper.js";
import { Ledger, registerWithRollback } from "../src/ledger/index.js";
import { type LocalIot, startLocalIot } from "../src/local-iot/service.js";
import { createObserver, type Observer, presignedObserverUrl } from "../src/observer/index.js";
import {
  type AwsCloudRegistry,
  createAwsRegistry,
  leastPrivilegePolicy,
  TOPIC_DEFAULT,
  topicForThing,
} from "../src/registry/index.js";
import { opensslCsr } from "./local-cloud.test-helper.js";

let dir: string;
let iot: LocalIot;
let registry: AwsCloudRegistry;
let ledger: Ledger;
let observer: Observer;
const devices: MqttClient[] = [];

interface Device {
  thingName: string;
  keyPem: string;
  certPem: string;
}

async function provisionDevice(thingName: string): Promise<Device> {
  const { csrPem, keyPem } = await opensslCsr(dir, thingName);
  const reg = await registerWithRollback(registry, ledger, {
    csrPem,
    thingName,
    policyName: "observer-test-policy",
    policyDocument: (a) => leastPrivilegePolicy(a),
  });
  return { thingName, keyPem, certPem: reg.certificatePem };
}

/** A device as the reference client behaves: mTLS, client id = thing name. */
async function connectDevice(d: Device): Promise<MqttClient> {
  const c = await mqtt.connectAsync(`mqtts://127.0.0.1:${iot.mqttsPort}`, {
    clientId: d.thingName,
    key: d.keyPem,
    cert: d.certPem,
    ca: iot.caPem,
    protocolVersion: 4,
    reconnectPeriod: 0,
  });
  devices.push(c);
  return c;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "cloud-observer-"));
  iot = await startLocalIot({ stateDir: join(dir, "iot") });
  expect(iot.brokerRunning).toBe(true);
  registry = await createAwsRegistry({
    region: iot.region,
    endpoint: iot.controlPlaneUrl,
    credentials: iot.credentials,
  });
  ledger = await Ledger.open(join(dir, "ledger.jsonl"));
  // Signed with the registry's own identity, as the tool does against AWS.
  observer = await createObserver({
    url: presignedObserverUrl({
      host: iot.endpoint,
      port: iot.wssPort,
      region: registry.region,
      credentials: registry.credentialProvider(),
    }),
    clientId: "provision-observer-test",
    ca: iot.caPem,
  });
});

afterAll(async () => {
  for (const d of devices) await d.endAsync(true).catch(() => undefined);
  await observer?.close();
  await ledger?.close();
  await registry?.close();
  await iot?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe("observer on the local AWS IoT over presigned WSS", () => {
  it("sees the first counter message of a device it watched before the device connected", async () => {
    const d = await provisionDevice("obs-thing-1");
    const topic = topicForThing(TOPIC_DEFAULT, d.thingName);
    await observer.watch(d.thingName, topic);
    const device = await connectDevice(d);
    const sentAt = Date.now();
    await device.publishAsync(topic, JSON.stringify({ counter: 0 }), { qos: 1 });
    const first = await observer.waitForFirstMessage(d.thingName, topic, 5000);
    expect(first.topic).toBe("obs-thing-1/counter");
    expect(first.json).toEqual({ counter: 0 });
    expect(first.connectedAt).toBeInstanceOf(Date);
    expect(first.receivedAt.getTime()).toBeGreaterThanOrEqual(sentAt);
    console.error(`observer: publish -> first message seen in ${first.receivedAt.getTime() - sentAt} ms`);
    await observer.unwatch(d.thingName, topic);
  });

  it("watches several devices on one connection, each getting its own message", async () => {
    const ds = await Promise.all(["obs-a", "obs-b", "obs-c"].map(provisionDevice));
    await Promise.all(ds.map((d) => observer.watch(d.thingName, `${d.thingName}/counter`)));
    const waits = ds.map((d) => observer.waitForFirstMessage(d.thingName, `${d.thingName}/counter`, 5000));
    // Out of order on purpose.
    for (const [i, d] of [...ds].reverse().entries()) {
      const c = await connectDevice(d);
      await c.publishAsync(`${d.thingName}/counter`, JSON.stringify({ counter: i }), { qos: 1 });
    }
    const got = await Promise.all(waits);
    expect(got.map((g) => [g.clientId, g.topic])).toEqual(
      ds.map((d) => [d.thingName, `${d.thingName}/counter`]),
    );
    expect(got.map((g) => g.json)).toEqual([{ counter: 2 }, { counter: 1 }, { counter: 0 }]);
  });

  it("a device disconnected for a forbidden publish -> VERIFY_REJECTED with the reason", async () => {
    const d = await provisionDevice("obs-bad");
    const topic = `${d.thingName}/counter`;
    await observer.watch(d.thingName, topic);
    const wait = observer.waitForFirstMessage(d.thingName, topic, 5000);
    const device = await connectDevice(d);
    // Outside its policy (another thing's topic): AWS disconnects the client.
    device.publish("someone-else/counter", "{}", { qos: 0 });
    const e = await rejection(wait);
    expect(e.code).toBe("VERIFY_REJECTED");
    expect(e.message).toBe("the service disconnected thing obs-bad: AUTH_ERROR");
    expect(e.details.reason).toBe("AUTH_ERROR");
  });

  it("a device that never publishes -> VERIFY_TIMEOUT naming the thing and the wait", async () => {
    const e = await rejection(observer.waitForFirstMessage("obs-silent", "obs-silent/counter", 300));
    expect(e.code).toBe("VERIFY_TIMEOUT");
    expect(e.details.waitedMs).toBeGreaterThanOrEqual(300);
    expect(e.message).toMatch(
      /^no message from thing obs-silent on obs-silent\/counter within 3\d\d ms: it never connected$/,
    );
  });

  it("a connected but silent device -> the timeout says it connected", async () => {
    const d = await provisionDevice("obs-quiet");
    await observer.watch(d.thingName, `${d.thingName}/counter`);
    await connectDevice(d);
    const e = await rejection(observer.waitForFirstMessage(d.thingName, `${d.thingName}/counter`, 600));
    expect(e.message).toMatch(/it connected at .* but published nothing/);
  });

  it("refuses to watch with the device's own client id", () => {
    expect(() => observer.watch("provision-observer-test", "x/counter")).toThrowError(
      /would disconnect the device/,
    );
  });

  it("a URL signed with the wrong secret -> CLOUD_ACCESS_DENIED; a closed port -> CLOUD_UNREACHABLE", async () => {
    const bad = presignedObserverUrl({
      host: iot.endpoint,
      port: iot.wssPort,
      region: iot.region,
      credentials: { accessKeyId: iot.credentials.accessKeyId, secretAccessKey: "wrong-secret" },
    });
    const denied = await rejection(
      createObserver({ url: bad, clientId: "obs-denied", ca: iot.caPem, connectTimeoutMs: 3000 }),
    );
    expect(denied.code).toBe("CLOUD_ACCESS_DENIED");
    // The signature is never shown.
    expect(denied.message).not.toContain("X-Amz-Signature");
    const unreachable = await rejection(
      createObserver({
        url: "wss://127.0.0.1:1/mqtt",
        clientId: "obs-nowhere",
        ca: iot.caPem,
        connectTimeoutMs: 3000,
      }),
    );
    expect(unreachable.code).toBe("CLOUD_UNREACHABLE");
    expect(unreachable.message).toMatch(/ECONNREFUSED/);
  });
});

describe("observer: first message after a restart", () => {
  it("ignores what the running device publishes before notBefore, reports the first message after", async () => {
    const d = await provisionDevice("restart-thing-1");
    const device = await connectDevice(d);
    const topic = topicForThing(TOPIC_DEFAULT, d.thingName);
    await observer.watch(d.thingName, topic);
    // The running device's periodic message, between the watch and the restart.
    await device.publishAsync(topic, JSON.stringify({ counter: 41 }), { qos: 1 });
    await new Promise((r) => setTimeout(r, 100));
    const notBefore = new Date(Date.now() + 300);
    const waiting = observer.waitForFirstMessage(d.thingName, topic, 5000, { notBefore });
    // One more from the old session while the restart is still pending, then the new boot's first.
    await device.publishAsync(topic, JSON.stringify({ counter: 42 }), { qos: 1 });
    await new Promise((r) => setTimeout(r, 400));
    await device.publishAsync(topic, JSON.stringify({ counter: 0 }), { qos: 1 });
    const first = await waiting;
    expect(first.json).toEqual({ counter: 0 });
    expect(first.receivedAt.getTime()).toBeGreaterThanOrEqual(notBefore.getTime());
    await observer.unwatch(d.thingName, topic);
  });
});
