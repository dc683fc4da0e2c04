import { describe, expect, it } from "vitest";
import { AdaptiveRate } from "./adaptive-rate.js";

describe("AdaptiveRate", () => {
  it("halves on a throttle, once per second however many refusals the burst brings", () => {
    const r = new AdaptiveRate(20);
    expect(r.throttled(1_000)).toBe(true);
    expect(r.tps).toBe(10);
    expect(r.throttled(1_500)).toBe(false);
    expect(r.tps).toBe(10);
    expect(r.throttled(2_000)).toBe(true);
    expect(r.tps).toBe(5);
  });

  it("climbs back by a tenth of the target per quiet second, never above it", () => {
    const r = new AdaptiveRate(20);
    r.throttled(0);
    expect(r.accepted(500)).toBe(false);
    expect(r.accepted(1_000)).toBe(true);
    expect(r.tps).toBe(12);
    expect(r.accepted(4_000)).toBe(true);
    expect(r.tps).toBe(18);
    r.accepted(10_000);
    expect(r.tps).toBe(20);
    expect(r.accepted(20_000)).toBe(false);
  });

  it("never drops below 5% of the target, and a new target resets it", () => {
    const r = new AdaptiveRate(100);
    for (let t = 0; t < 20_000; t += 1_000) r.throttled(t);
    expect(r.tps).toBe(5);
    r.setTarget(40);
    expect([r.tps, r.target]).toEqual([40, 40]);
    expect(() => new AdaptiveRate(0)).toThrow(/> 0/);
  });
});
