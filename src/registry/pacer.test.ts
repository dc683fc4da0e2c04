import { describe, expect, it } from "vitest";
import { Pacer } from "./pacer.js";

const busyFor = (ms: number) => {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    // a blocked event loop, as under load
  }
};

describe("Pacer", () => {
  it("lets calls go at least minTime apart, even after the event loop was blocked past several turns", async () => {
    const pacer = new Pacer(50);
    const starts: number[] = [];
    const all = Array.from({ length: 8 }, () => pacer.acquire().then(() => starts.push(performance.now())));
    await new Promise((r) => setTimeout(r, 60));
    // Blocked for four turns: a precomputed schedule would now release four calls at once.
    busyFor(220);
    await Promise.all(all);
    const gaps = starts.slice(1).map((t, i) => t - (starts[i] as number));
    // ~50 ms each (a few ms of slack for when the callbacks ran); a precomputed schedule gives ~0 here.
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(45);
  });

  it("takes a new spacing at once, and refuses turns once stopped", async () => {
    const pacer = new Pacer(1000);
    await pacer.acquire();
    const second = pacer.acquire();
    pacer.setMinTime(20);
    const started = performance.now();
    await second;
    expect(performance.now() - started).toBeLessThan(500);
    const third = pacer.acquire();
    pacer.stop();
    await expect(third).rejects.toThrow(/stopped/);
    await expect(pacer.acquire()).rejects.toThrow(/stopped/);
  });
});
