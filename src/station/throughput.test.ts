import { describe, expect, it } from "vitest";
import { steadyThroughput } from "./throughput.js";

describe("steadyThroughput", () => {
  it("leaves out the ramp-up bunch and the tail: a line finishing one device every 100 ms is 600/min", () => {
    // 4 slots: the first 4 finish together at 1 s, then one every 100 ms, the last 4 drain slowly.
    const finished = [
      1000,
      1000,
      1000,
      1000,
      ...Array.from({ length: 20 }, (_, i) => 1100 + 100 * i),
      5000,
      7000,
      9000,
      11000,
    ];
    const r = steadyThroughput(finished, 4, 0);
    expect(r.steady).toBe(true);
    expect(r.devices).toBe(finished.length - 8);
    expect(r.devicesPerMin).toBeCloseTo(600, 0);
  });

  it("too few devices for a steady part: the whole run, and says so", () => {
    const r = steadyThroughput([3000, 1000, 2000], 2, 0);
    expect(r).toEqual({ devicesPerMin: 60, devices: 3, windowMs: 3000, steady: false });
  });
});
