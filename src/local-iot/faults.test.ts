import { describe, expect, it } from "vitest";
import { ApiError } from "./api-error.js";
import { exceedsWindow, FAULTS_ENV, FaultInjector, faultConfigFromEnv } from "./faults.js";

async function outcome(f: FaultInjector, op: string): Promise<string> {
  try {
    await f.before(op);
    return "ok";
  } catch (e) {
    return (e as ApiError).errorType;
  }
}

describe("FaultInjector", () => {
  it("gives the same fault sequence for the same seed, and roughly the configured rate", async () => {
    const run = async () => {
      const f = new FaultInjector({ seed: 7, default: { throttleRate: 0.3 } });
      const seq: string[] = [];
      for (let i = 0; i < 400; i++) seq.push(await outcome(f, "CreateThing"));
      return seq;
    };
    const a = await run();
    const b = await run();
    expect(a).toEqual(b);
    const throttled = a.filter((x) => x === "ThrottlingException").length;
    expect(throttled).toBeGreaterThan(80);
    expect(throttled).toBeLessThan(160);
  });

  it("applies per-operation settings over the default, and counts outcomes", async () => {
    const f = new FaultInjector({
      seed: 1,
      default: { serverErrorRate: 1 },
      operations: { DescribeThing: { serverErrorRate: 0 } },
    });
    for (let i = 0; i < 10; i++) {
      f.recordRequest("CreateThing");
      const r = await outcome(f, "CreateThing");
      expect(["ServiceUnavailableException", "InternalFailureException"]).toContain(r);
      f.recordRequest("DescribeThing");
      expect(await outcome(f, "DescribeThing")).toBe("ok");
      f.recordOk("DescribeThing");
    }
    expect(f.stats().CreateThing).toMatchObject({ requests: 10, injectedServerErrors: 10, ok: 0 });
    expect(f.stats().DescribeThing).toMatchObject({ requests: 10, ok: 10, injectedServerErrors: 0 });
  });

  it("throttles above maxRps within a one-second window and admits again after it", async () => {
    const f = new FaultInjector({ operations: { CreateCertificateFromCsr: { maxRps: 5 } } });
    const first: string[] = [];
    for (let i = 0; i < 8; i++) first.push(await outcome(f, "CreateCertificateFromCsr"));
    expect(first.filter((x) => x === "ok")).toHaveLength(5);
    expect(first.slice(5)).toEqual(["ThrottlingException", "ThrottlingException", "ThrottlingException"]);
    expect(await outcome(f, "AttachPolicy")).toBe("ok"); // other operations are not limited
    await new Promise((r) => setTimeout(r, 1050));
    expect(await outcome(f, "CreateCertificateFromCsr")).toBe("ok");
    expect(f.stats().CreateCertificateFromCsr?.rateLimited).toBe(3);
  });

  it("counts a request at the time it arrived, not when a busy service got to it", async () => {
    const f = new FaultInjector({ operations: { CreateThing: { maxRps: 2 } } });
    const now = Date.now();
    // Three requests 600 ms apart, all handled only now: within the quota by their arrival times.
    await f.before("CreateThing", now - 1200);
    await f.before("CreateThing", now - 600);
    await f.before("CreateThing", now);
    expect(f.stats().CreateThing?.rateLimited ?? 0).toBe(0);
    // Counted at the moment they are handled, the same three would be one too many.
    const g = new FaultInjector({ operations: { CreateThing: { maxRps: 2 } } });
    await g.before("CreateThing");
    await g.before("CreateThing");
    await expect(g.before("CreateThing")).rejects.toMatchObject({ errorType: "ThrottlingException" });
    expect(f.maxRpsFor("CreateThing")).toBe(2);
    expect(f.maxRpsFor("DescribeThing")).toBeUndefined();
  });

  it("judges every one-second window that holds a request, whatever the order requests are checked in", () => {
    // Arrivals 0, 600, 1200 ms with a limit of 2: no one-second window holds three.
    expect(exceedsWindow([600, 1200], 0, 2)).toBe(false);
    expect(exceedsWindow([0, 1200], 600, 2)).toBe(false);
    // 0, 500, 900: the window from 0 holds three, whichever came last.
    expect(exceedsWindow([500, 900], 0, 2)).toBe(true);
    expect(exceedsWindow([0, 900], 500, 2)).toBe(true);
    expect(exceedsWindow([0, 500], 900, 2)).toBe(true);
    // Exactly one second apart is two windows.
    expect(exceedsWindow([0, 500], 1000, 2)).toBe(false);
  });

  it("adds the configured latency", async () => {
    const f = new FaultInjector({ default: { latencyMs: 80 } });
    const t0 = performance.now();
    await f.before("ListThings");
    expect(performance.now() - t0).toBeGreaterThanOrEqual(75);
  });

  it("fails after commit when asked, so callers see an unclear failure", () => {
    const f = new FaultInjector({ default: { serverErrorAfterCommitRate: 1 } });
    expect(() => f.after("CreateCertificateFromCsr")).toThrow(ApiError);
  });

  it("rejects bad settings naming the setting, and reads JSON from the environment", () => {
    expect(() => new FaultInjector({ default: { throttleRate: 2 } })).toThrow(/default\.throttleRate/);
    expect(() => new FaultInjector({ operations: { X: { maxRps: 0 } } })).toThrow(/operations\.X\.maxRps/);
    expect(faultConfigFromEnv({})).toBeUndefined();
    expect(faultConfigFromEnv({ [FAULTS_ENV]: '{"seed":3,"default":{"throttleRate":0.5}}' })).toEqual({
      seed: 3,
      default: { throttleRate: 0.5 },
    });
    expect(() => faultConfigFromEnv({ [FAULTS_ENV]: "{nope" })).toThrow(FAULTS_ENV);
  });
});
