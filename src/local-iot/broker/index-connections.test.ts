/**
 * The broker end to end, continued: live connections (takeover, a
 * certificate turned INACTIVE), disconnect reasons of misbehaving clients,
 * and observers over WSS with SigV4.
 */
import { connect as tlsConnect } from "node:tls";
import mqtt from "mqtt";
import { describe, expect, it } from "vitest";
import WebSocket from "ws";
import { presignMqttUrl } from "../../cloud/sigv4-mqtt-url.js";
import type { IssuedCert } from "./broker.test-helper.js";
import {
  broker,
  CONNACK_ACCEPTED,
  ca,
  closed,
  connectDevice,
  connected,
  credentials,
  devices,
  firstBytes,
  openClients,
  REGION,
  rawConnectPacket,
  registry,
  seenMessage,
  subackCodes,
  useBroker,
} from "./broker-fixture.test-helper.js";

useBroker();

/** A device's TLS session with a hand-written CONNECT (keepalive in s), once the broker accepted it. */
async function rawDeviceSession(clientId: string, keepaliveSec: number) {
  const cert = devices[clientId] as IssuedCert;
  const socket = tlsConnect({
    host: "127.0.0.1",
    port: broker.mqttsPort,
    ca: ca.caPem,
    cert: cert.certPem,
    key: cert.keyPem,
  });
  const connack = firstBytes(socket, "data", CONNACK_ACCEPTED.length);
  socket.once("secureConnect", () => socket.write(rawConnectPacket(clientId, keepaliveSec)));
  expect(await connack).toEqual(CONNACK_ACCEPTED);
  return socket;
}

/** A presigned WSS URL for the broker, with the fixture's credentials unless told otherwise. */
const signedUrl = (o: Partial<Parameters<typeof presignMqttUrl>[0]> = {}) =>
  presignMqttUrl({ host: "127.0.0.1", port: broker.wssPort, region: REGION, credentials, ...o });

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
    const socket = await rawDeviceSession("sensor-2", 1);
    const ended = new Promise<void>((resolve) => socket.once("close", () => resolve()));
    await ended; // the broker drops it after ~1.5 s without PINGREQ
    const bye = await seenMessage("$aws/events/presence/disconnected/sensor-2", () => true, since);
    expect(bye.disconnectReason).toBe("MQTT_KEEP_ALIVE_TIMEOUT");
  });

  it("reports a WebSocket Close frame without MQTT DISCONNECT as CLIENT_INITIATED_DISCONNECT", async () => {
    const since = Date.now();
    const url = await signedUrl();
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
    const socket = await rawDeviceSession("sensor-2", 60);
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
    const good = await signedUrl();
    expect(await upgradeStatus(good)).toBe(101);
    const withToken = await signedUrl({ credentials: { ...credentials, sessionToken: "session/token+=" } });
    expect(await upgradeStatus(withToken)).toBe(101);
    const bad = good.replace(
      /X-Amz-Signature=([0-9a-f])/,
      (_m, c: string) => `X-Amz-Signature=${c === "a" ? "b" : "a"}`,
    );
    expect(await upgradeStatus(bad)).toBe(403);
    const wrongSecret = await signedUrl({ credentials: { ...credentials, secretAccessKey: "guess" } });
    expect(await upgradeStatus(wrongSecret)).toBe(403);
    const expired = await signedUrl({ credentials, expiresSec: 60, date: new Date(Date.now() - 3600_000) });
    expect(await upgradeStatus(expired)).toBe(403);
  });

  it("lets an observer subscribe to anything but not publish on lifecycle topics", async () => {
    const url = await signedUrl();
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
