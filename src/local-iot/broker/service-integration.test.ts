/**
 * The broker inside the whole local service: a certificate issued and wired
 * by the REAL @aws-sdk/client-iot against the control plane, then used by a
 * real mqtt.js device over mutual TLS, watched by a SigV4 WSS observer.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  AttachPolicyCommand,
  AttachThingPrincipalCommand,
  CreateCertificateFromCsrCommand,
  CreatePolicyCommand,
  CreateThingCommand,
  IoTClient,
  UpdateCertificateCommand,
} from "@aws-sdk/client-iot";
import mqtt, { type MqttClient } from "mqtt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { presignMqttUrl } from "../../cloud/sigv4-mqtt-url.js";
import { type LocalIot, startLocalIot } from "../service.js";
import { leastPrivilegePolicy } from "./broker.test-helper.js";

const THING = "svc-sensor-1";
const WAIT_MS = 5_000;

let dir: string;
let iot: LocalIot;
let iotClient: IoTClient;
let observer: MqttClient;
const seen: { topic: string; payload: string }[] = [];
const clients: MqttClient[] = [];

function waitFor<T>(what: string, probe: () => T | undefined): Promise<T> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const tick = () => {
      const v = probe();
      if (v !== undefined) return resolve(v);
      if (Date.now() - started > WAIT_MS) return reject(new Error(`timed out waiting for ${what}`));
      setTimeout(tick, 10);
    };
    tick();
  });
}

function message(topic: string, pred: (p: Record<string, unknown>) => boolean = () => true) {
  return waitFor(`a message on ${topic}`, () => {
    for (const m of seen) {
      if (m.topic !== topic) continue;
      const p = JSON.parse(m.payload) as Record<string, unknown>;
      if (pred(p)) return p;
    }
    return undefined;
  });
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "broker-svc-"));
  iot = await startLocalIot({ stateDir: join(dir, "state") });
  expect(iot.brokerRunning).toBe(true);
  iotClient = new IoTClient({
    endpoint: iot.controlPlaneUrl,
    region: iot.region,
    credentials: iot.credentials,
  });
  const url = await presignMqttUrl({
    host: iot.endpoint,
    port: iot.wssPort,
    region: iot.region,
    credentials: iot.credentials,
  });
  observer = mqtt.connect(url, {
    clientId: "svc-observer",
    ca: iot.caPem,
    reconnectPeriod: 0,
    protocolVersion: 4,
  });
  await new Promise<void>((resolve, reject) => {
    observer.once("connect", () => resolve());
    observer.once("error", reject);
  });
  observer.on("message", (topic, payload) => seen.push({ topic, payload: payload.toString() }));
  await observer.subscribeAsync([`${THING}/#`, `$aws/events/presence/+/${THING}`], { qos: 1 });
});

afterAll(async () => {
  for (const c of clients) c.end(true);
  observer?.end(true);
  await iot?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("broker behind the local service", () => {
  it("admits a device registered through the control plane and drops it when its certificate is deactivated", async () => {
    execFileSync(
      "openssl",
      ["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"].concat([
        "-keyout",
        join(dir, "dev.key"),
        "-subj",
        `/CN=${THING}`,
        "-out",
        join(dir, "dev.csr"),
      ]),
      { stdio: ["ignore", "ignore", "pipe"] },
    );
    const cert = await iotClient.send(
      new CreateCertificateFromCsrCommand({
        certificateSigningRequest: readFileSync(join(dir, "dev.csr"), "utf8"),
        setAsActive: true,
      }),
    );
    await iotClient.send(new CreateThingCommand({ thingName: THING }));
    await iotClient.send(
      new CreatePolicyCommand({
        policyName: "least-privilege",
        policyDocument: JSON.stringify(leastPrivilegePolicy(iot.region, iot.accountId)),
      }),
    );
    await iotClient.send(
      new AttachPolicyCommand({ policyName: "least-privilege", target: cert.certificateArn }),
    );
    await iotClient.send(
      new AttachThingPrincipalCommand({ thingName: THING, principal: cert.certificateArn }),
    );

    const device = mqtt.connect(`mqtts://${iot.endpoint}:${iot.mqttsPort}`, {
      clientId: THING,
      ca: iot.caPem,
      cert: cert.certificatePem,
      key: readFileSync(join(dir, "dev.key"), "utf8"),
      reconnectPeriod: 0,
      protocolVersion: 4,
    });
    clients.push(device);
    await new Promise<void>((resolve, reject) => {
      device.once("connect", () => resolve());
      device.once("error", reject);
    });
    const up = await message(`$aws/events/presence/connected/${THING}`);
    expect(up.principalIdentifier).toBe(cert.certificateId);

    await device.publishAsync(`${THING}/data`, JSON.stringify({ counter: 0 }), { qos: 1 });
    expect(await message(`${THING}/data`)).toEqual({ counter: 0 });

    const gone = new Promise<void>((resolve) => device.once("close", () => resolve()));
    await iotClient.send(
      new UpdateCertificateCommand({ certificateId: cert.certificateId, newStatus: "INACTIVE" }),
    );
    await gone;
    const bye = await message(`$aws/events/presence/disconnected/${THING}`);
    expect(bye).toMatchObject({ disconnectReason: "AUTH_ERROR", sessionIdentifier: up.sessionIdentifier });
  });
});
