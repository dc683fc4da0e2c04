import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import mqtt, { type MqttClient } from "mqtt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
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
let device: MqttClient | undefined;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "observer-restart-"));
  iot = await startLocalIot({ stateDir: join(dir, "iot") });
  registry = await createAwsRegistry({
    region: iot.region,
    endpoint: iot.controlPlaneUrl,
    credentials: iot.credentials,
  });
  ledger = await Ledger.open(join(dir, "ledger.jsonl"));
  observer = await createObserver({
    url: presignedObserverUrl({
      host: iot.endpoint,
      port: iot.wssPort,
      region: registry.region,
      credentials: registry.credentialProvider(),
    }),
    clientId: "provision-observer-restart-test",
    ca: iot.caPem,
  });
});

afterAll(async () => {
  await device?.endAsync(true).catch(() => undefined);
  await observer?.close();
  await ledger?.close();
  await registry?.close();
  await iot?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe("observer: first message after a restart", () => {
  it("ignores what the running device publishes before notBefore, reports the first message after", async () => {
    const thingName = "restart-thing-1";
    const { csrPem, keyPem } = await opensslCsr(dir, "d", thingName);
    const reg = await registerWithRollback(registry, ledger, {
      csrPem,
      thingName,
      policyName: "restart-test-policy",
      policyDocument: (a) => leastPrivilegePolicy(a),
    });
    device = await mqtt.connectAsync(`mqtts://127.0.0.1:${iot.mqttsPort}`, {
      clientId: thingName,
      key: keyPem,
      cert: reg.certificatePem,
      ca: iot.caPem,
      protocolVersion: 4,
      reconnectPeriod: 0,
    });
    const topic = topicForThing(TOPIC_DEFAULT, thingName);
    await observer.watch(thingName, topic);
    // The running device's periodic message, between the watch and the restart.
    await device.publishAsync(topic, JSON.stringify({ counter: 41 }), { qos: 1 });
    await new Promise((r) => setTimeout(r, 100));
    const notBefore = new Date(Date.now() + 300);
    const waiting = observer.waitForFirstMessage(thingName, topic, 5000, { notBefore });
    // One more from the old session while the restart is still pending, then the new boot's first.
    await device.publishAsync(topic, JSON.stringify({ counter: 42 }), { qos: 1 });
    await new Promise((r) => setTimeout(r, 400));
    await device.publishAsync(topic, JSON.stringify({ counter: 0 }), { qos: 1 });
    const first = await waiting;
    expect(first.json).toEqual({ counter: 0 });
    expect(first.receivedAt.getTime()).toBeGreaterThanOrEqual(notBefore.getTime());
    await observer.unwatch(thingName, topic);
  });
});
