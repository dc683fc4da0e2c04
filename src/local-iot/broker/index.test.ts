/**
 * The broker end to end: real mqtt.js clients over real mutual TLS and real
 * WSS+SigV4 on 127.0.0.1, against an in-memory store.
 */

import { describe, expect, it } from "vitest";
import { type IssuedCert, leastPrivilegePolicy, TestCa } from "./broker.test-helper.js";
import {
  ACCOUNT,
  ca,
  closed,
  connectDevice,
  connected,
  devices,
  observer,
  REGION,
  registry,
  seen,
  seenMessage,
  subackCodes,
  useBroker,
  WAIT_MS,
  waitFor,
} from "./broker-fixture.test-helper.js";

useBroker();

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
