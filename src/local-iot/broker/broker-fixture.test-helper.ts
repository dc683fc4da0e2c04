/**
 * The broker end to end, shared by its test files: a test CA, an in-memory
 * store with five devices, the broker on free ports, and an observer over
 * WSS+SigV4 that records every message (`seen`).
 */
import type { EventEmitter } from "node:events";
import mqtt, { type IClientOptions, type MqttClient } from "mqtt";
import { afterAll, beforeAll } from "vitest";
import { presignMqttUrl } from "../../cloud/sigv4-mqtt-url.js";
import { FakeStore, type IssuedCert, leastPrivilegePolicy, TestCa } from "./broker.test-helper.js";
import { type RunningBroker, startBroker } from "./index.js";

export const REGION = "us-east-1";
export const ACCOUNT = "123456789012";
export const credentials = { accessKeyId: "AKIDLOCAL", secretAccessKey: "local-secret" };
export const WAIT_MS = 5_000;

export let ca: TestCa;
export let registry: FakeStore;
export let broker: RunningBroker;
export let observer: MqttClient;
export const seen: { topic: string; payload: string; at: number }[] = [];
export const devices: Record<string, IssuedCert> = {};
export const openClients: MqttClient[] = [];

export function waitFor<T>(what: string, probe: () => T | undefined, timeoutMs = WAIT_MS): Promise<T> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const tick = () => {
      const v = probe();
      if (v !== undefined) return resolve(v);
      if (Date.now() - started > timeoutMs) return reject(new Error(`timed out waiting for ${what}`));
      setTimeout(tick, 10);
    };
    tick();
  });
}

export function seenMessage(
  topic: string,
  pred: (p: Record<string, unknown>) => boolean = () => true,
  since = 0,
) {
  return waitFor(`a message on ${topic}`, () => {
    for (const m of seen) {
      if (m.topic !== topic || m.at < since) continue;
      let p: Record<string, unknown>;
      try {
        p = JSON.parse(m.payload) as Record<string, unknown>;
      } catch {
        p = { text: m.payload };
      }
      if (pred(p)) return p;
    }
    return undefined;
  });
}

/** The SUBACK return codes (0x80 = failure); mqtt.js rejects on any failure code, so read the packet. */
export async function subackCodes(client: MqttClient, topics: string[]): Promise<number[]> {
  try {
    return (await client.subscribeAsync(topics, { qos: 1 })).map((g) => g.qos);
  } catch (e) {
    const packet = (e as { packet?: { granted?: number[] } }).packet;
    if (!packet?.granted) throw e;
    return packet.granted;
  }
}

/** A bare MQTT 3.1.1 CONNECT (clean session), for clients that must misbehave in ways mqtt.js will not. */
export function rawConnectPacket(clientId: string, keepaliveSec: number): Buffer {
  const id = Buffer.from(clientId, "utf8");
  const rest = Buffer.concat([
    Buffer.from([0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, 0x04, 0x02, keepaliveSec >> 8, keepaliveSec & 0xff]),
    Buffer.from([id.length >> 8, id.length & 0xff]),
    id,
  ]);
  if (rest.length > 127) throw new Error("client id too long for this one-byte length encoder");
  return Buffer.concat([Buffer.from([0x10, rest.length]), rest]);
}
export const CONNACK_ACCEPTED = Buffer.from([0x20, 0x02, 0x00, 0x00]);

/** The first n bytes arriving as `event` chunks (a CONNACK may come in several TLS records or WebSocket frames). */
export function firstBytes(source: EventEmitter, event: "data" | "message", n: number): Promise<Buffer> {
  return new Promise((resolve) => {
    let got = Buffer.alloc(0);
    const onChunk = (d: Buffer) => {
      got = Buffer.concat([got, d]);
      if (got.length < n) return;
      source.off(event, onChunk);
      resolve(got.subarray(0, n));
    };
    source.on(event, onChunk);
  });
}

type ConnectOutcome =
  | { client: MqttClient; connected: true }
  | { client: MqttClient; connected: false; error: Error };

export function connectDevice(cert: IssuedCert, clientId: string, ca2 = ca): Promise<ConnectOutcome> {
  const opts: IClientOptions = {
    clientId,
    ca: ca2.caPem,
    cert: cert.certPem,
    key: cert.keyPem,
    reconnectPeriod: 0,
    protocolVersion: 4,
    connectTimeout: WAIT_MS,
  };
  const client = mqtt.connect(`mqtts://127.0.0.1:${broker.mqttsPort}`, opts);
  openClients.push(client);
  return new Promise((resolve) => {
    client.once("connect", () => resolve({ client, connected: true }));
    client.once("error", (error) => resolve({ client, connected: false, error }));
    client.once("close", () =>
      resolve({ client, connected: false, error: new Error("closed before CONNACK") }),
    );
  });
}

export async function connected(cert: IssuedCert, clientId: string): Promise<MqttClient> {
  const r = await connectDevice(cert, clientId);
  if (!r.connected) throw r.error;
  return r.client;
}

export function closed(client: MqttClient): Promise<void> {
  if (!client.connected) return Promise.resolve();
  return new Promise((resolve) => client.once("close", () => resolve()));
}

export function provisionDevice(
  thingName: string,
  cert: IssuedCert,
  policy: object = leastPrivilegePolicy(REGION, ACCOUNT),
) {
  const arn = registry.addCertificate(cert);
  registry.attachThing(arn, thingName);
  registry.attachPolicy(arn, `${thingName}-policy`, policy);
  devices[thingName] = cert;
}

/** Registers the broker, its CA, five devices and a subscribed observer for the calling test file. */
export function useBroker(): void {
  beforeAll(async () => {
    ca = await TestCa.create("Local IoT test CA");
    const server = await ca.issueServer();
    registry = new FakeStore(REGION, ACCOUNT);
    for (const name of ["sensor-1", "sensor-2", "sensor-dup", "sensor-revoke"]) {
      provisionDevice(name, await ca.issueClient(name));
    }
    // Subscribe anywhere but receive only below its own topic: tells Receive from Subscribe.
    provisionDevice("sensor-rx", await ca.issueClient("sensor-rx"), {
      Version: "2012-10-17",
      Statement: [
        {
          Effect: "Allow",
          Action: "iot:Connect",
          Resource: `arn:aws:iot:${REGION}:${ACCOUNT}:client/sensor-rx`,
        },
        { Effect: "Allow", Action: "iot:Subscribe", Resource: "*" },
        {
          Effect: "Allow",
          Action: "iot:Receive",
          Resource: `arn:aws:iot:${REGION}:${ACCOUNT}:topic/sensor-rx/*`,
        },
      ],
    });
    broker = await startBroker(registry, {
      serverCertPem: server.certPem,
      serverKeyPem: server.keyPem,
      caPem: ca.caPem,
      credentials,
      region: REGION,
    });
    const url = await presignMqttUrl({
      host: "127.0.0.1",
      port: broker.wssPort,
      region: REGION,
      credentials,
    });
    observer = mqtt.connect(url, {
      clientId: "observer-1",
      ca: ca.caPem,
      reconnectPeriod: 0,
      protocolVersion: 4,
    });
    await new Promise<void>((resolve, reject) => {
      observer.once("connect", () => resolve());
      observer.once("error", reject);
    });
    observer.on("message", (topic, payload) =>
      seen.push({ topic, payload: payload.toString(), at: Date.now() }),
    );
    await observer.subscribeAsync(["$aws/events/presence/#", "#"], { qos: 1 });
  });

  afterAll(async () => {
    for (const c of openClients) c.end(true);
    observer?.end(true);
    await broker?.close();
  });
}
