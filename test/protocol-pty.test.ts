/**
 * The serialport transport and a DeviceSession on a real pseudo-terminal pair
 * (socat), with the fake device on the other end.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { rejection } from "../src/errors.test-helper.js";
import { DEVICE_STATE, KEY_STORE, KEY_TYPE, sha256 } from "../src/protocol/index.js";
import { FakeDevice } from "../src/session/fake-device.test-helper.js";
import { DeviceSession } from "../src/session/index.js";
import { mapOpenError, openSerialTransport, type Transport } from "../src/transport/index.js";

let socat: ChildProcess;
let hostPath = "";
let devicePath = "";

beforeAll(async () => {
  socat = spawn("socat", ["-d", "-d", "pty,raw,echo=0", "pty,raw,echo=0"], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  const paths: string[] = [];
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("socat did not report two ptys within 5 s")), 5000);
    socat.stderr?.on("data", (d: Buffer) => {
      for (const m of d.toString().matchAll(/PTY is (\S+)/g)) paths.push(m[1] as string);
      if (paths.length >= 2 && /starting data transfer loop/.test(d.toString())) {
        clearTimeout(timer);
        resolve();
      }
    });
    socat.on("error", reject);
  });
  [hostPath, devicePath] = paths as [string, string];
});

afterAll(() => {
  socat?.kill();
});

describe("serial transport on a pseudo-terminal", () => {
  it("runs a session against the fake device across the pty pair", async () => {
    const host = await openSerialTransport(hostPath, { baudRate: 115200 });
    const dev: Transport = await openSerialTransport(devicePath, { baudRate: 115200 });
    const device = new FakeDevice(dev, { maxFrame: 256 });
    const session = new DeviceSession(host, { recordWire: true });
    const lines: string[] = [];
    session.on("log", (l) => lines.push(l));
    try {
      expect(host.name).toBe(hostPath);
      // A pty has no modem lines: set() fails with ENOTTY, which the transport tolerates.
      expect(await host.setSignals({ dtr: false, rts: false })).toBe(false);
      await device.boot();
      const hello = await session.hello();
      expect(hello).toMatchObject({ version: 1, maxFrame: 256, state: DEVICE_STATE.EMPTY });
      expect(lines).toContain("rst:0x1 (POWERON_RESET),boot:0x13 (SPI_FAST_FLASH_BOOT)");
      const key = await session.generateKey({ keyType: KEY_TYPE.EC_P256, keyStore: KEY_STORE.FILE });
      const csr = await session.getCsr({ O: "株式会社テスト", CN: "pty-device" });
      expect(csr.includes(key.publicKey)).toBe(true);
      const set = {
        certificatePem: `-----BEGIN CERTIFICATE-----\n${"A".repeat(1300)}\n-----END CERTIFICATE-----\n`,
        rootCaPem: "",
        endpoint: "127.0.0.1",
        mqttPort: 8883,
        thingName: "pty-device",
        topic: "t/pty",
        publishIntervalMs: 1000,
      };
      const w = await session.writeCredentials(set);
      expect(device.staged && sha256(device.staged).equals(w.digest)).toBe(true);
      expect((await session.commit()).generation).toBe(1);
      expect(await session.setBaud(921600)).toEqual({ baudRate: 921600, fellBack: false });
      expect(host.baudRate).toBe(921600);
      expect((await session.status()).state).toBe(DEVICE_STATE.PROVISIONED);
      expect(session.wireBytes().tx).toBeGreaterThan(1300);
    } finally {
      await session.close();
      await device.stop();
      await dev.close();
    }
  });

  it("maps open errors to PORT_NOT_FOUND, PORT_BUSY and PORT_PERMISSION with the port in where", async () => {
    const missing = await rejection(openSerialTransport("/dev/ttyUSB-does-not-exist"));
    expect(missing.code).toBe("PORT_NOT_FOUND");
    expect(missing.where).toBe("/dev/ttyUSB-does-not-exist");

    const first = await openSerialTransport(hostPath);
    try {
      const busy = await rejection(openSerialTransport(hostPath));
      expect(busy.code).toBe("PORT_BUSY");
      expect(busy.where).toBe(hostPath);
      expect(busy.hint).toMatch(/idf.py monitor/);
    } finally {
      await first.close();
    }
    // Tests run as root, which no file mode stops: this is the message node-serialport gives for EACCES.
    const denied = mapOpenError(
      "/dev/ttyUSB0",
      new Error("Error: Permission denied, cannot open /dev/ttyUSB0"),
    );
    expect(denied.code).toBe("PORT_PERMISSION");
    expect(denied.hint).toMatch(/dialout/);
    // And after close the port opens again (the lock was released).
    const again = await openSerialTransport(hostPath);
    await again.close();
  });
});
