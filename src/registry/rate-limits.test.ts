/**
 * The station's limiter against the local AWS IoT over the real SDK: a
 * quota lower than the station believes is met by slowing the operation
 * down in the shared limiter, with every throttled call requeued there (the
 * SDK does not retry it on its own), and no call failing.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LocalIot, startLocalIot } from "../local-iot/service.js";
import { createAwsRegistry } from "./create-aws-registry.js";
import { OperationRateLimiter } from "./rate-limits.js";

let dir: string;
let iot: LocalIot;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "rate-limits-"));
  iot = await startLocalIot({ stateDir: join(dir, "iot"), withoutBroker: true });
});

afterAll(async () => {
  await iot?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe("OperationRateLimiter with throttling answers", () => {
  it("a quota of 5/s met at a believed 20/s: the operation slows down, every call succeeds, the SDK retries nothing itself", async () => {
    iot.setFaults({ operations: { CreateThing: { maxRps: 5 } } });
    const limiter = new OperationRateLimiter({ tps: { CreateThing: 20 } });
    const registry = await createAwsRegistry({
      region: iot.region,
      endpoint: iot.controlPlaneUrl,
      credentials: { ...iot.credentials },
      rateLimit: limiter,
    });
    try {
      const things = Array.from({ length: 24 }, (_, i) => `aimd-${i}`);
      const results = await Promise.all(things.map((t) => registry.createThing(t, {}, { lookedUp: true })));
      expect(results.map((r) => r.created)).toEqual(things.map(() => true));

      const seen = limiter.stats().CreateThing;
      const service = iot.stats().CreateThing;
      expect(seen?.throttled).toBeGreaterThan(0);
      // Each refusal came back through the limiter: requests = successes + refusals, none retried by the SDK alone.
      expect(service?.rateLimited).toBe(seen?.throttled);
      expect(service?.requests).toBe(things.length + (seen?.throttled ?? 0));
      expect(seen?.calls).toBe(service?.requests);
      // The limiter ran below the believed rate, and remembers where to return to.
      expect(seen?.tps).toBeLessThan(20);
      expect(seen?.targetTps).toBe(20);
    } finally {
      await registry.close();
      await limiter.stop();
      iot.setFaults({});
    }
  }, 30_000);

  it("a limiter the registry was given is the caller's to stop; its own is stopped on close", async () => {
    const shared = new OperationRateLimiter();
    const registry = await createAwsRegistry({
      region: iot.region,
      endpoint: iot.controlPlaneUrl,
      credentials: { ...iot.credentials },
      rateLimit: shared,
    });
    await registry.describeThing("nothing-here");
    await registry.close();
    // Still usable after the registry closed.
    await expect(shared.schedule("DescribeThing", async () => 7)).resolves.toBe(7);
    await shared.stop();
    await expect(shared.schedule("DescribeThing", async () => 7)).rejects.toThrow();
  });
});
