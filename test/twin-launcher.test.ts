/**
 * The TypeScript launcher of the device twin: build check, several twins at
 * once with their own ptys and stable device ids, UART pacing, clean stop.
 */
import { stat } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { KEY_STORE, KEY_TYPE } from "../src/protocol/index.js";
import {
  ensureTwinBuilt,
  missingPackageHint,
  startTwin,
  startTwins,
  TWIN_BINARY,
} from "../src/twin/index.js";
import { openTwinSession, tempDir } from "./twin.test-helper.js";

let base: { path: string; remove: () => Promise<void> };
beforeAll(async () => {
  base = await tempDir("twin-launcher-");
});
afterAll(async () => {
  await base.remove();
});

it("builds once and reports the binary", async () => {
  expect(await ensureTwinBuilt()).toBe(TWIN_BINARY);
  expect((await stat(TWIN_BINARY)).mode & 0o111).not.toBe(0);
});

it("names the Debian package a failed build needs", () => {
  expect(
    missingPackageHint("src/mqtt_app.c:12:10: fatal error: mosquitto.h: No such file or directory"),
  ).toBe("libmosquitto-dev");
  expect(
    missingPackageHint("../core/include/prov/compat.h:13:10: fatal error: mbedtls/version.h: No such file"),
  ).toBe("libmbedtls-dev");
  expect(missingPackageHint("make: cc: No such file or directory")).toBe("gcc");
  expect(missingPackageHint("some other failure")).toBe("");
});

it("starts several twins on their own ptys with stable device ids, and stops them cleanly", async () => {
  const twins = await startTwins(3, base.path);
  try {
    expect(new Set(twins.map((t) => t.port)).size).toBe(3);
    expect(new Set(twins.map((t) => t.deviceId)).size).toBe(3);
    for (const t of twins) {
      expect(t.port).toMatch(/^\/dev\/pts\/\d+$/);
      expect(t.deviceId).toMatch(/^[0-9a-f]{12}$/);
    }
    // each answers on its own port
    const sessions = await Promise.all(twins.map((t) => openTwinSession(t)));
    const hellos = await Promise.all(sessions.map((s) => s.hello()));
    expect(hellos.map((h) => h.deviceId)).toEqual(twins.map((t) => t.deviceId));
    await Promise.all(sessions.map((s) => s.close()));
  } finally {
    await Promise.all(twins.map((t) => t.stop()));
  }
  expect(await twins[0]?.exited).toBe(0); // SIGTERM is a clean exit
  // the same state dir gives the same device id again
  const again = await startTwin({ stateDir: join(base.path, "twin-1") });
  expect(again.deviceId).toBe(twins[1]?.deviceId);
  await again.stop();
});

it("takes the time a UART would with --line-rate", async () => {
  const timeHelloAndKey = async (lineRateBaud: number, dir: string) => {
    const twin = await startTwin({ stateDir: join(base.path, dir), lineRateBaud, deviceId: "02aabbccddee" });
    const session = await openTwinSession(twin, { recordWire: true });
    try {
      await session.hello();
      const t0 = performance.now();
      await session.generateKey({ keyType: KEY_TYPE.EC_P256, keyStore: KEY_STORE.FILE });
      const ms = performance.now() - t0;
      const rxBytes = session.wire.filter((w) => w.direction === "rx").at(-1)?.bytes.length ?? 0;
      return { ms, rxBytes };
    } finally {
      await session.close();
      await twin.stop();
    }
  };
  const paced = await timeHelloAndKey(9600, "paced");
  const unpaced = await timeHelloAndKey(0, "unpaced");
  // the GENERATE_KEY answer is a ~165-byte frame line: ~170 ms at 9600 baud (10 bits per byte),
  // of which the host sees all but the pause after the last 64-byte burst
  expect(paced.ms).toBeGreaterThan(100);
  expect(unpaced.ms).toBeLessThan(paced.ms / 2);
});
