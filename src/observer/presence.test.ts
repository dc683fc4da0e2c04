import { describe, expect, it } from "vitest";
import { applyLifecycle, type LifecycleEvent, newPresenceState, parseLifecycle } from "./presence.js";

const connected = (v: number, t = 1000 + v): LifecycleEvent => ({
  clientId: "thing-1",
  eventType: "connected",
  versionNumber: v,
  timestamp: t,
  sessionIdentifier: `s${v}`,
});
const disconnected = (v: number, reason: string): LifecycleEvent => ({
  clientId: "thing-1",
  eventType: "disconnected",
  versionNumber: v,
  timestamp: 2000 + v,
  disconnectReason: reason,
  sessionIdentifier: `s${v}`,
});

describe("parseLifecycle", () => {
  it("reads AWS's payload and falls back on the topic", () => {
    const payload = Buffer.from(
      JSON.stringify({
        clientId: "thing-1",
        timestamp: 1460065214626,
        eventType: "disconnected",
        sessionIdentifier: "00000000-0000-0000-0000-000000000000",
        principalIdentifier: "12345678901234567890123456789012",
        clientInitiatedDisconnect: false,
        disconnectReason: "AUTH_ERROR",
        versionNumber: 2,
      }),
    );
    expect(parseLifecycle("$aws/events/presence/disconnected/thing-1", payload)).toMatchObject({
      clientId: "thing-1",
      eventType: "disconnected",
      disconnectReason: "AUTH_ERROR",
      versionNumber: 2,
    });
    expect(parseLifecycle("$aws/events/presence/connected/thing-2", Buffer.from("not json"))).toMatchObject({
      clientId: "thing-2",
      eventType: "connected",
    });
    expect(parseLifecycle("thing-1/counter", Buffer.from("{}"))).toBeUndefined();
  });
});

describe("applyLifecycle", () => {
  it("ignores duplicates", () => {
    const s = newPresenceState();
    expect(applyLifecycle(s, connected(1))).toBe(true);
    expect(applyLifecycle(s, connected(1))).toBe(false);
    expect(s.events).toHaveLength(1);
  });

  it("an old session's AUTH_ERROR arriving after a newer connect does not stand", () => {
    const s = newPresenceState();
    applyLifecycle(s, connected(2));
    applyLifecycle(s, disconnected(1, "AUTH_ERROR"));
    expect(s.rejection).toBeUndefined();
    expect(s.connectedAt?.getTime()).toBe(1002);
  });

  it("a rejection of the current session stands; a later connection clears it", () => {
    const s = newPresenceState();
    applyLifecycle(s, connected(1));
    applyLifecycle(s, disconnected(1, "AUTH_ERROR"));
    expect(s.rejection?.disconnectReason).toBe("AUTH_ERROR");
    applyLifecycle(s, connected(2));
    expect(s.rejection).toBeUndefined();
  });

  it("a connected event older than the newest does not move connectedAt back", () => {
    const s = newPresenceState();
    applyLifecycle(s, connected(3, 5000));
    applyLifecycle(s, connected(2, 4000));
    expect(s.connectedVersion).toBe(3);
    expect(s.connectedAt?.getTime()).toBe(5000);
  });

  it("ordinary disconnects (the device restarts or loses Wi-Fi) are not rejections", () => {
    const s = newPresenceState();
    for (const r of ["CONNECTION_LOST", "CLIENT_INITIATED_DISCONNECT", "MQTT_KEEP_ALIVE_TIMEOUT"]) {
      applyLifecycle(s, disconnected(1, r));
    }
    expect(s.rejection).toBeUndefined();
  });

  it("a restarted device's old half-open session kicked by its new one (DUPLICATE_CLIENTID) does not stand, whatever the order", () => {
    const before = newPresenceState();
    applyLifecycle(before, disconnected(1, "DUPLICATE_CLIENTID"));
    expect(before.rejection).toBeUndefined();
    applyLifecycle(before, connected(2));
    expect(before.rejection).toBeUndefined();
    const after = newPresenceState();
    applyLifecycle(after, connected(2));
    applyLifecycle(after, disconnected(1, "DUPLICATE_CLIENTID"));
    expect(after.rejection).toBeUndefined();
  });

  it("the current session kicked by another client with its id (DUPLICATE_CLIENTID) is a rejection", () => {
    const s = newPresenceState();
    applyLifecycle(s, connected(1));
    applyLifecycle(s, disconnected(1, "DUPLICATE_CLIENTID"));
    expect(s.rejection?.disconnectReason).toBe("DUPLICATE_CLIENTID");
  });

  it("connect_failed is a rejection", () => {
    const s = newPresenceState();
    applyLifecycle(s, {
      clientId: "thing-1",
      eventType: "connect_failed",
      disconnectReason: "AUTHORIZATION_FAILED",
      timestamp: 1,
    });
    expect(s.rejection?.disconnectReason).toBe("AUTHORIZATION_FAILED");
  });

  it("a session of the boot before a restart ends abruptly (CLIENT_ERROR): not a rejection; the new boot's is", () => {
    // The device had just connected (t = 1001) when it was told to restart at t = 1500.
    const s = newPresenceState();
    applyLifecycle(s, connected(1));
    s.ignoreSessionsBefore = 1500;
    applyLifecycle(s, disconnected(1, "CLIENT_ERROR"));
    expect(s.rejection).toBeUndefined();
    applyLifecycle(s, connected(2, 1600));
    applyLifecycle(s, disconnected(2, "AUTH_ERROR"));
    expect(s.rejection?.disconnectReason).toBe("AUTH_ERROR");
  });
});
