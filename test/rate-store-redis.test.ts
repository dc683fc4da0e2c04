/**
 * Rate limiters of several processes sharing one budget per operation
 * through a real redis-server (redis-pacer.ts over ioredis), and the
 * errors an operator sees when Redis is not there.
 */

import type { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OperationRateLimiter } from "../src/registry/rate-limits.js";
import {
  openRateStore,
  parseRateStoreUrl,
  type RateStore,
  rateStoreUrlFrom,
} from "../src/registry/rate-store.js";
import { RedisPacer } from "../src/registry/redis-pacer.js";
import { freePort, type RedisServer, startRedis } from "./redis-server.test-helper.js";

let redis: RedisServer;

beforeAll(async () => {
  redis = await startRedis();
}, 20_000);

afterAll(async () => {
  await redis?.stop();
});

describe("Redis rate store", () => {
  it("two stations (own connections, same scope) share one budget: 20 calls at 10/s need two windows", async () => {
    const stores: RateStore[] = [await openRateStore(redis.url), await openRateStore(redis.url)];
    const limiters = stores.map(
      (store) => new OperationRateLimiter({ store, tps: { CreateThing: 10 }, scope: "shared-test" }),
    );
    const starts: number[] = [];
    try {
      await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          limiters[i % 2]?.schedule("CreateThing", async () => starts.push(Date.now())),
        ),
      );
    } finally {
      for (const l of limiters) await l.stop();
      for (const s of stores) await s.close();
    }
    starts.sort((a, b) => a - b);
    // 10/s = 11 calls per 1.11 s window, for both together: the 12th waits for the window (each alone
    // would have let 11 go at once).
    expect((starts.at(-1) ?? 0) - (starts[0] ?? 0)).toBeGreaterThanOrEqual(1_100);
    const maxInWindow = Math.max(...starts.map((t) => starts.filter((u) => u >= t && u - t < 1000).length));
    expect(maxInWindow).toBeLessThanOrEqual(11);
  }, 20_000);

  it("another scope (another region) has its own budget", async () => {
    const store = await openRateStore(redis.url);
    const a = new OperationRateLimiter({ store, tps: { CreateThing: 5 }, scope: "eu-west-1" });
    const b = new OperationRateLimiter({ store, tps: { CreateThing: 5 }, scope: "us-east-1" });
    const started = Date.now();
    try {
      await Promise.all([a, b].flatMap((l) => [1, 2, 3].map(() => l.schedule("CreateThing", async () => 1))));
    } finally {
      await a.stop();
      await b.stop();
      await store.close();
    }
    // 3 calls each at 5/s: ~400 ms; sharing one budget would take ~1 s.
    expect(Date.now() - started).toBeLessThan(900);
  }, 20_000);

  it("a station that slows an operation down slows every station down", async () => {
    const stores: RateStore[] = [await openRateStore(redis.url), await openRateStore(redis.url)];
    const key = "provision:pace:test:CreateThing";
    const a = new RedisPacer(stores[0]?.redis as Redis, key, 50);
    const b = new RedisPacer(stores[1]?.redis as Redis, key, 50);
    try {
      await b.setRate(50);
      await a.setRate(1.8); // what a ThrottlingException does to station a: 2 calls per window
      const started = Date.now();
      for (let i = 0; i < 3; i++) await b.acquire();
      // Station b, still believing 50/s, waited a window for its third call.
      expect(Date.now() - started).toBeGreaterThanOrEqual(1_050);
    } finally {
      a.stop();
      b.stop();
      for (const s of stores) await s.close();
    }
  }, 20_000);

  it("an unreachable Redis is a CONFIG error naming the store (never its password) and what to do", async () => {
    const port = await freePort();
    const started = Date.now();
    const e = await openRateStore(`redis://:s3cret@127.0.0.1:${port}`).then(
      () => undefined,
      (err: unknown) => err as { code: string; message: string; hint: string; where: string },
    );
    expect(e?.code).toBe("CONFIG");
    expect(e?.message).toBe(
      `cannot reach the shared rate store redis://127.0.0.1:${port}: connection refused`,
    );
    expect(e?.hint).toMatch(/leave the rate store out \(--rate-store, PROVISION_RATE_STORE, rateStore\)/);
    expect(JSON.stringify(e)).not.toContain("s3cret");
    expect(e?.message).not.toContain("s3cret");
    expect(Date.now() - started).toBeLessThan(10_000);
  }, 20_000);

  it("a password comes from the environment or the config file, never the command line", () => {
    expect(() => rateStoreUrlFrom("redis://:pw@h:1", undefined)).toThrow(
      /--rate-store redis:\/\/:\*\*\*@h:1: a password on the command line is visible to every user in `ps`/,
    );
    expect(rateStoreUrlFrom("redis://h:1", "redis://:c@k:2")).toBe("redis://h:1");
    expect(rateStoreUrlFrom(undefined, "redis://:c@k:2")).toBe("redis://:c@k:2");
    process.env.PROVISION_RATE_STORE_PASSWORD = "p w";
    try {
      expect(rateStoreUrlFrom("redis://h:1", undefined)).toBe("redis://:p%20w@h:1");
      expect(parseRateStoreUrl("redis://:p%20w@h:1").password).toBe("p w");
    } finally {
      delete process.env.PROVISION_RATE_STORE_PASSWORD;
    }
  });

  it("malformed URLs are usage errors", () => {
    expect(() => parseRateStoreUrl("localhost:6379")).toThrow(/--rate-store localhost:6379/);
    expect(() => parseRateStoreUrl("http://127.0.0.1:6379")).toThrow(/only redis:/);
    expect(parseRateStoreUrl("redis://h:1234/3")).toMatchObject({ host: "h", port: 1234, db: 3 });
    expect(parseRateStoreUrl("redis://h")).toMatchObject({
      port: 6379,
      db: 0,
      description: "redis://h:6379",
    });
  });
});
