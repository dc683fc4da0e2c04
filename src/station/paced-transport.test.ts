import { describe, expect, it } from "vitest";
import { createMemoryTransportPair } from "../transport/index.js";
import { PacedTransport } from "./paced-transport.js";

describe("paced transport", () => {
  it("hands bytes on no earlier than a UART at the rate would have sent them, and follows a baud change", async () => {
    const [host, device] = createMemoryTransportPair({ baudRate: 115200 });
    const arrivals: { at: number; n: number }[] = [];
    const t0 = performance.now();
    device.onData((b) => arrivals.push({ at: performance.now() - t0, n: b.length }));
    const paced = new PacedTransport(host, 9600);
    // 96 bytes at 9600 baud = 100 ms; two writes back to back = 200 ms.
    await Promise.all([paced.write(Buffer.alloc(96)), paced.write(Buffer.alloc(96))]);
    expect(arrivals.map((a) => a.n)).toEqual([96, 96]);
    expect(arrivals[0]?.at).toBeGreaterThanOrEqual(95);
    expect(arrivals[1]?.at).toBeGreaterThanOrEqual(195);

    await paced.setBaudRate(96000); // 10x faster: 960 bytes = 100 ms (1 s at the old rate)
    const t1 = performance.now();
    await paced.write(Buffer.alloc(960));
    const ms = performance.now() - t1;
    expect(ms).toBeGreaterThanOrEqual(95);
    expect(ms).toBeLessThan(500);
    expect(host.baudRate).toBe(96000);
  });

  it("refuses a rate that is not a positive integer", () => {
    const [host] = createMemoryTransportPair();
    expect(() => new PacedTransport(host, 0)).toThrow(TypeError);
  });
});
