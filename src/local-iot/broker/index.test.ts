/**
 * The broker end to end: real mqtt.js clients over real mutual TLS and real
 * WSS+SigV4 on 127.0.0.1, against an in-memory store.
 */
import type { EventEmitter } from "node:events";
import { connect as tlsConnect } from "node:tls";
import mqtt, { type IClientOptions, type MqttClient } from "mqtt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { presignMqttUrl } from "../../cloud/sigv4-mqtt-url.js";
import { FakeStore, type IssuedCert, leastPrivilegePolicy, TestCa } from "./broker.test-helper.js";
import { type RunningBroker, startBroker } from "./index.js";

const REGION = "us-east-1";
const ACCOUNT = "123456789012";
const credentials = { accessKeyId: "AKIDLOCAL", secretAccessKey: "local-secret" };
const WAIT_MS = 5_000;

let ca: TestCa;
let registry: FakeStore;
let broker: RunningBroker;
let observer: MqttClient;
const seen: { topic: string; payload: string; at: number }[] = [];
const devices: Record<string, IssuedCert> = {};
const openClients: MqttClient[] = [];

function waitFor<T>(what: string, probe: () => T | undefined, timeoutMs = WAIT_MS): Promise<T> {
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

function seenMessage(topic: string, pred: (p: Record<string, unknown>) => boolean = () => true, since = 0) {
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
async function subackCodes(client: MqttClient, topics: string[]): Promise<number[]> {
  try {
    return (await client.subscribeAsync(topics, { qos: 1 })).map((g) => g.qos);
  } catch (e) {
    const packet = (e as { packet?: { granted?: number[] } }).packet;
    if (!packet?.granted) throw e;
    return packet.granted;
  }
}

/** A bare MQTT 3.1.1 CONNECT (clean session), for clients that must misbehave in ways mqtt.js will not. */
function rawConnectPacket(clientId: string, keepaliveSec: number): Buffer {
  const id = Buffer.from(clientId, "utf8");
  const rest = Buffer.concat([
    Buffer.from([0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, 0x04, 0x02, keepaliveSec >> 8, keepaliveSec & 0xff]),
    Buffer.from([id.length >> 8, id.length & 0xff]),
    id,
  ]);
  if (rest.length > 127) throw new Error("client id too long for this one-byte length encoder");
  return Buffer.concat([Buffer.from([0x10, rest.length]), rest]);
}
const CONNACK_ACCEPTED = Buffer.from([0x20, 0x02, 0x00, 0x00]);

/** The first n bytes arriving as `event` chunks (a CONNACK may come in several TLS records or WebSocket frames). */
function firstBytes(source: EventEmitter, event: "data" | "message", n: number): Promise<Buffer> {
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

function connectDevice(cert: IssuedCert, clientId: string, ca2 = ca): Promise<ConnectOutcome> {
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

async function connected(cert: IssuedCert, clientId: string): Promise<MqttClient> {
  const r = await connectDevice(cert, clientId);
  if (!r.connected) throw r.error;
  return r.client;
}

function closed(client: MqttClient): Promise<void> {
  if (!client.connected) return Promise.resolve();
  return new Promise((resolve) => client.once("close", () => resolve()));
}

function provisionDevice(
  thingName: string,
  cert: IssuedCert,
  policy: object = leastPrivilegePolicy(REGION, ACCOUNT),
) {
  const arn = registry.addCertificate(cert);
  registry.attachThing(arn, thingName);
  registry.attachPolicy(arn, `${thingName}-policy`, policy);
  devices[thingName] = cert;
}

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
  const url = await presignMqttUrl({ host: "127.0.0.1", port: broker.wssPort, region: REGION, credentials });
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

describe("device over mutual TLS with the least-privilege policy", () => {
  it("connects as its thing, publishes on its topic; the SigV4 observer sees message and connected event", async () => {
    const since = Date.now();
    const device = await connected(devices["sensor-1"] as IssuedCert, "sensor-1");
    const event = await seenMessage("$aws/events/presence/connected/sensor-1", () => true, since);
    expect(event).toMatchObject({
      clientId: "sensor-1",
      eventType: "connected",
      principalIdentifier: devices["sensor-1"]?.certificateId,
      ipAddress: "127.0.0.1",
    });
    expect(event.sessionIdentifier).toMatch(/^[0-9a-f]{32}$/);
    expect(event.versionNumber).toBeGreaterThanOrEqual(1);
    expect(Math.abs((event.timestamp as number) - Date.now())).toBeLessThan(WAIT_MS);

    // its own topic: allowed to subscribe and to receive its own publish back
    const granted = await device.subscribeAsync("sensor-1/#", { qos: 1 });
    expect(granted[0]?.qos).toBe(1);
    const echo = new Promise<string>((resolve) => device.once("message", (_t, p) => resolve(p.toString())));
    await device.publishAsync("sensor-1/data", JSON.stringify({ counter: 0 }), { qos: 1 });
    expect(await seenMessage("sensor-1/data", (p) => p.counter === 0, since)).toEqual({ counter: 0 });
    expect(await echo).toBe('{"counter":0}');
    expect(device.connected).toBe(true);
    await device.endAsync();
    const bye = await seenMessage("$aws/events/presence/disconnected/sensor-1", () => true, since);
    expect(bye).toMatchObject({
      disconnectReason: "CLIENT_INITIATED_DISCONNECT",
      clientInitiatedDisconnect: true,
      sessionIdentifier: event.sessionIdentifier,
      versionNumber: event.versionNumber,
    });
  });

  it("is disconnected for a publish on another thing's topic, which nobody receives", async () => {
    const since = Date.now();
    const device = await connected(devices["sensor-1"] as IssuedCert, "sensor-1");
    const gone = closed(device);
    device.publish("sensor-2/data", "intrusion", { qos: 1 });
    await gone;
    const bye = await seenMessage("$aws/events/presence/disconnected/sensor-1", () => true, since);
    expect(bye).toMatchObject({ disconnectReason: "AUTH_ERROR", clientInitiatedDisconnect: false });
    expect(seen.some((m) => m.topic === "sensor-2/data" && m.at >= since)).toBe(false);
  });

  it("gets failure 0x80 for a subscription outside its policy and stays connected", async () => {
    const device = await connected(devices["sensor-2"] as IssuedCert, "sensor-2");
    expect(await subackCodes(device, ["sensor-1/#", "sensor-2/cmd"])).toEqual([128, 1]);
    expect(device.connected).toBe(true);
    await device.endAsync();
  });

  it("receives only what iot:Receive allows, even when the subscription was allowed", async () => {
    const since = Date.now();
    const rx = await connected(devices["sensor-rx"] as IssuedCert, "sensor-rx");
    const got: string[] = [];
    rx.on("message", (t) => got.push(t));
    expect((await rx.subscribeAsync("#", { qos: 1 }))[0]?.qos).toBe(1);
    // the observer (an IAM principal) publishes both; it sees both, the device only its own
    await observer.publishAsync("sensor-2/data", "not yours", { qos: 1 });
    await observer.publishAsync("sensor-rx/cmd", "yours", { qos: 1 });
    await seenMessage("sensor-rx/cmd", () => true, since);
    await waitFor("sensor-rx/cmd at the device", () => (got.includes("sensor-rx/cmd") ? true : undefined));
    expect(got).toEqual(["sensor-rx/cmd"]);
    await rx.endAsync();
  });
});

describe("AWS IoT limits", () => {
  it("disconnects a QoS 2 publish and an oversized payload with CLIENT_ERROR", async () => {
    for (const attempt of [
      { payload: "x", qos: 2 as const },
      { payload: "x".repeat(128 * 1024 + 1), qos: 0 as const },
    ]) {
      const since = Date.now();
      const device = await connected(devices["sensor-2"] as IssuedCert, "sensor-2");
      const gone = closed(device);
      device.publish("sensor-2/data", attempt.payload, { qos: attempt.qos });
      await gone;
      const bye = await seenMessage("$aws/events/presence/disconnected/sensor-2", () => true, since);
      expect(bye.disconnectReason).toBe("CLIENT_ERROR");
    }
  });

  it("refuses a client id over 128 bytes with CONNACK 2", async () => {
    const r = await connectDevice(devices["sensor-2"] as IssuedCert, "c".repeat(129));
    expect((r as { error: Error & { code?: number } }).error.code).toBe(2);
  });
});

describe("refusals at CONNECT and at TLS", () => {
  it("refuses a client id other than the thing name (CONNACK 5) and reports connect_failed", async () => {
    const since = Date.now();
    const r = await connectDevice(devices["sensor-1"] as IssuedCert, "sensor-2");
    expect(r.connected).toBe(false);
    expect((r as { error: Error & { code?: number } }).error.code).toBe(5);
    const ev = await seenMessage("$aws/events/presence/connect_failed/sensor-2", () => true, since);
    expect(ev).toMatchObject({
      failureType: "AUTHORIZATION_FAILED",
      principalIdentifier: devices["sensor-1"]?.certificateId,
    });
  });

  it("refuses an INACTIVE certificate and an unregistered one from the right CA", async () => {
    const inactive = await ca.issueClient("sensor-inactive");
    const arn = registry.addCertificate(inactive, "INACTIVE");
    registry.attachThing(arn, "sensor-inactive");
    registry.attachPolicy(arn, "p", leastPrivilegePolicy(REGION, ACCOUNT));
    const r1 = await connectDevice(inactive, "sensor-inactive");
    expect(r1.connected).toBe(false);
    expect((r1 as { error: Error & { code?: number } }).error.code).toBe(5);

    const unknown = await ca.issueClient("sensor-unknown");
    const r2 = await connectDevice(unknown, "sensor-unknown");
    expect(r2.connected).toBe(false);
    expect((r2 as { error: Error & { code?: number } }).error.code).toBe(5);
  });

  it("refuses a certificate from another CA during the TLS handshake", async () => {
    const otherCa = await TestCa.create("Some other CA");
    const foreign = await otherCa.issueClient("foreign-1");
    const since = Date.now();
    const r = await connectDevice(foreign, "foreign-1");
    expect(r.connected).toBe(false);
    // No CONNACK code: the connection died in TLS, before MQTT CONNECT was looked at...
    const e = (r as { error: Error & { code?: unknown } }).error;
    expect(typeof e.code === "number").toBe(false);
    // ...so no connect_failed event either (an unregistered certificate of the right CA gets one).
    await observer.publishAsync("sync/after-foreign", "{}", { qos: 1 });
    await seenMessage("sync/after-foreign", () => true, since);
    expect(seen.some((m) => m.topic === "$aws/events/presence/connect_failed/foreign-1")).toBe(false);
  });
});

describe("live connections", () => {
  it("disconnects the older connection when a second one uses the same client id", async () => {
    const since = Date.now();
    const first = await connected(devices["sensor-dup"] as IssuedCert, "sensor-dup");
    const firstUp = await seenMessage("$aws/events/presence/connected/sensor-dup", () => true, since);
    const firstGone = closed(first);
    const second = await connected(devices["sensor-dup"] as IssuedCert, "sensor-dup");
    await firstGone;
    const bye = await seenMessage(
      "$aws/events/presence/disconnected/sensor-dup",
      (p) => p.sessionIdentifier === firstUp.sessionIdentifier,
      since,
    );
    expect(bye.disconnectReason).toBe("DUPLICATE_CLIENTID");
    const secondUp = await seenMessage(
      "$aws/events/presence/connected/sensor-dup",
      (p) => p.sessionIdentifier !== firstUp.sessionIdentifier,
      since,
    );
    expect(secondUp.versionNumber).toBe((firstUp.versionNumber as number) + 1);
    expect(second.connected).toBe(true);
    await second.endAsync();
  });

  it("disconnects a client whose certificate becomes INACTIVE", async () => {
    const since = Date.now();
    const cert = devices["sensor-revoke"] as IssuedCert;
    const device = await connected(cert, "sensor-revoke");
    const gone = closed(device);
    registry.setStatus(cert.certificateId, "INACTIVE");
    await gone;
    const bye = await seenMessage("$aws/events/presence/disconnected/sensor-revoke", () => true, since);
    expect(bye.disconnectReason).toBe("AUTH_ERROR");
    const again = await connectDevice(cert, "sensor-revoke");
    expect(again.connected).toBe(false);
  });
});

describe("disconnect reasons of misbehaving clients", () => {
  it("reports MQTT_KEEP_ALIVE_TIMEOUT for a client silent for 1.5 keepalive periods", async () => {
    const since = Date.now();
    const cert = devices["sensor-2"] as IssuedCert;
    const socket = tlsConnect({
      host: "127.0.0.1",
      port: broker.mqttsPort,
      ca: ca.caPem,
      cert: cert.certPem,
      key: cert.keyPem,
    });
    const connack = firstBytes(socket, "data", CONNACK_ACCEPTED.length);
    socket.once("secureConnect", () => socket.write(rawConnectPacket("sensor-2", 1)));
    expect(await connack).toEqual(CONNACK_ACCEPTED);
    const ended = new Promise<void>((resolve) => socket.once("close", () => resolve()));
    await ended; // the broker drops it after ~1.5 s without PINGREQ
    const bye = await seenMessage("$aws/events/presence/disconnected/sensor-2", () => true, since);
    expect(bye.disconnectReason).toBe("MQTT_KEEP_ALIVE_TIMEOUT");
  });

  it("reports a WebSocket Close frame without MQTT DISCONNECT as CLIENT_INITIATED_DISCONNECT", async () => {
    const since = Date.now();
    const url = await presignMqttUrl({
      host: "127.0.0.1",
      port: broker.wssPort,
      region: REGION,
      credentials,
    });
    const ws = new WebSocket(url, ["mqtt"], { ca: ca.caPem });
    await new Promise<void>((resolve, reject) => {
      ws.once("open", () => resolve());
      ws.once("error", reject);
    });
    const connack = firstBytes(ws, "message", CONNACK_ACCEPTED.length);
    ws.send(rawConnectPacket("observer-raw", 60));
    expect(await connack).toEqual(CONNACK_ACCEPTED);
    await seenMessage("$aws/events/presence/connected/observer-raw", () => true, since);
    ws.close(1000);
    const bye = await seenMessage("$aws/events/presence/disconnected/observer-raw", () => true, since);
    expect(bye).toMatchObject({
      disconnectReason: "CLIENT_INITIATED_DISCONNECT",
      principalIdentifier: "AKIDLOCAL",
    });
  });

  it("reports a dropped TCP connection as CONNECTION_LOST", async () => {
    const since = Date.now();
    const cert = devices["sensor-2"] as IssuedCert;
    const socket = tlsConnect({
      host: "127.0.0.1",
      port: broker.mqttsPort,
      ca: ca.caPem,
      cert: cert.certPem,
      key: cert.keyPem,
    });
    const connack = firstBytes(socket, "data", CONNACK_ACCEPTED.length);
    socket.once("secureConnect", () => socket.write(rawConnectPacket("sensor-2", 60)));
    expect(await connack).toEqual(CONNACK_ACCEPTED);
    socket.destroy();
    const bye = await seenMessage("$aws/events/presence/disconnected/sensor-2", () => true, since);
    expect(bye.disconnectReason).toBe("CONNECTION_LOST");
  });
});

describe("observers over WSS with SigV4", () => {
  function upgradeStatus(url: string): Promise<number> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, ["mqtt"], { ca: ca.caPem });
      ws.once("unexpected-response", (_req, res) => {
        resolve(res.statusCode ?? 0);
        ws.terminate();
      });
      ws.once("open", () => {
        ws.terminate();
        resolve(101);
      });
      ws.once("error", (e) => reject(e));
    });
  }

  it("refuses a bad signature, a wrong secret and an expired URL with HTTP 403", async () => {
    const good = await presignMqttUrl({
      host: "127.0.0.1",
      port: broker.wssPort,
      region: REGION,
      credentials,
    });
    expect(await upgradeStatus(good)).toBe(101);
    const withToken = await presignMqttUrl({
      host: "127.0.0.1",
      port: broker.wssPort,
      region: REGION,
      credentials: { ...credentials, sessionToken: "session/token+=" },
    });
    expect(await upgradeStatus(withToken)).toBe(101);
    const bad = good.replace(
      /X-Amz-Signature=([0-9a-f])/,
      (_m, c: string) => `X-Amz-Signature=${c === "a" ? "b" : "a"}`,
    );
    expect(await upgradeStatus(bad)).toBe(403);
    const wrongSecret = await presignMqttUrl({
      host: "127.0.0.1",
      port: broker.wssPort,
      region: REGION,
      credentials: { ...credentials, secretAccessKey: "guess" },
    });
    expect(await upgradeStatus(wrongSecret)).toBe(403);
    const expired = await presignMqttUrl({
      host: "127.0.0.1",
      port: broker.wssPort,
      region: REGION,
      credentials,
      expiresSec: 60,
      date: new Date(Date.now() - 3600_000),
    });
    expect(await upgradeStatus(expired)).toBe(403);
  });

  it("lets an observer subscribe to anything but not publish on lifecycle topics", async () => {
    const url = await presignMqttUrl({
      host: "127.0.0.1",
      port: broker.wssPort,
      region: REGION,
      credentials,
    });
    const o = mqtt.connect(url, {
      clientId: "observer-2",
      ca: ca.caPem,
      reconnectPeriod: 0,
      protocolVersion: 4,
    });
    openClients.push(o);
    await new Promise<void>((resolve, reject) => {
      o.once("connect", () => resolve());
      o.once("error", reject);
    });
    expect(await subackCodes(o, ["#", "$aws/events/#", "$SYS/#"])).toEqual([1, 1, 128]);
    const gone = closed(o);
    o.publish("$aws/events/presence/connected/sensor-1", "{}", { qos: 1 });
    await gone;
  });
});
