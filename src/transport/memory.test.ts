import { describe, expect, it } from "vitest";
import { KEY_STORE, KEY_TYPE } from "../protocol/index.js";
import { FakeDevice } from "../session/fake-device.test-helper.js";
import { DeviceSession } from "../session/index.js";
import { createMemoryTransportPair } from "./memory.js";

describe("memory transport pair", () => {
  it("delivers in order, holds bytes until the first listener, and reports close to the peer", async () => {
    const [a, b] = createMemoryTransportPair();
    await a.write(Buffer.from("one "));
    await a.write(Buffer.from("two"));
    const got: string[] = [];
    b.onData((d) => got.push(d.toString()));
    expect(got.join("")).toBe("one two");
    let closedWith: Error | undefined;
    b.onClose((e) => {
      closedWith = e;
    });
    await a.close();
    expect(b.isOpen).toBe(false);
    expect(closedWith?.message).toMatch(/memory:host closed/);
    await expect(b.write(Buffer.from("x"))).rejects.toMatchObject({ code: "PORT_IO" });
  });

  it("garbles bytes while the two ends' baud rates differ", async () => {
    const [a, b] = createMemoryTransportPair();
    const got: Buffer[] = [];
    b.onData((d) => got.push(d));
    await a.setBaudRate(921600);
    await a.write(Buffer.from("\x1eAQIAAgEA\n"));
    expect(Buffer.concat(got).includes(Buffer.from("AQIAAgEA"))).toBe(false);
  });

  it("lets a fault corrupt a frame in flight; the session retries and the device executes once", async () => {
    let corrupted = 0;
    const [host, dev] = createMemoryTransportPair({
      faultAtoB: (bytes) => {
        if (corrupted === 0 && bytes[0] === 0x1e && bytes.length > 10) {
          corrupted++;
          const c = Buffer.from(bytes);
          c[6] = c[6] === 0x41 ? 0x42 : 0x41;
          return c;
        }
        return bytes;
      },
    });
    const device = new FakeDevice(dev);
    const session = new DeviceSession(host, { timing: { GENERATE_KEY: { timeoutMs: 200 } } });
    try {
      await session.generateKey({ keyType: KEY_TYPE.EC_P256, keyStore: KEY_STORE.FILE });
      expect(corrupted).toBe(1);
      expect(session.stats.retries).toBe(1);
      expect(device.executions.GENERATE_KEY).toBe(1);
    } finally {
      await session.close();
      await device.stop();
    }
  });
});
