/**
 * The pacer's rule (pacer.ts: at most N calls in any window, a least gap
 * between two) kept in Redis, so every station on one Redis shares one
 * budget per operation. One Lua script decides atomically, on Redis's
 * clock, whether a call may go now and records it, or says how long to wait;
 * the decision is made when the call goes, never scheduled ahead, so a
 * station that was busy for a moment cannot release a burst.
 *
 * The allowance per window is in Redis too: when one station slows an
 * operation down after a ThrottlingException (or a new station starts with
 * the quotas it just read), every station goes at the new rate. Within a
 * station only the oldest waiting call asks Redis; the others queue behind
 * it locally.
 */
import { randomBytes } from "node:crypto";
import type { Redis } from "ioredis";
import { PACING_WINDOW_MS, windowShare } from "./pacer.js";

// KEYS[1]: sorted set of start times (ms) in the window; KEYS[2]: the shared allowance per window.
// ARGV: perWindow (when none is shared), windowMs, member.
// Returns 0 when the call may go (and is recorded), else the milliseconds to wait.
const TAKE_TURN_LUA = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local perWindow = tonumber(redis.call('GET', KEYS[2]) or ARGV[1])
local windowMs = tonumber(ARGV[2])
local minGap = windowMs / perWindow / 2
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - windowMs)
local n = redis.call('ZCARD', KEYS[1])
local nextStart = -1
if n > 0 then
  local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
  nextStart = tonumber(last[2]) + minGap
end
if n >= perWindow then
  local oldest = redis.call('ZRANGE', KEYS[1], n - perWindow, n - perWindow, 'WITHSCORES')
  nextStart = math.max(nextStart, tonumber(oldest[2]) + windowMs)
end
if now >= nextStart then
  redis.call('ZADD', KEYS[1], now, ARGV[3])
  redis.call('PEXPIRE', KEYS[1], math.ceil(windowMs * 2))
  return 0
end
return math.max(1, math.ceil(nextStart - now))
`;

/** Longest single sleep: a rate raised meanwhile (by this or another station) is seen within it. */
const MAX_SLEEP_MS = 250;
/** The shared allowance outlives a pause of the line, not a shift change. */
const SHARED_RATE_TTL_MS = 15 * 60_000;

export class RedisPacer {
  private perWindow: number;
  private readonly rateKey: string;
  private queue: Promise<void> = Promise.resolve();
  private stopped = false;

  constructor(
    private readonly redis: Redis,
    private readonly key: string,
    tps: number,
    private readonly windowMs: number = PACING_WINDOW_MS,
  ) {
    this.rateKey = `${key}:perWindow`;
    this.perWindow = windowShare(tps, windowMs).perWindow;
  }

  /** Shares a new rate with every station on this Redis (the last one set wins). */
  async setRate(tps: number): Promise<void> {
    this.perWindow = windowShare(tps, this.windowMs).perWindow;
    await this.redis.set(this.rateKey, this.perWindow, "PX", SHARED_RATE_TTL_MS);
  }

  acquire(): Promise<void> {
    if (this.stopped) return Promise.reject(new Error("the rate limiter was stopped"));
    const turn = this.queue.then(() => this.takeTurn());
    this.queue = turn.catch(() => undefined);
    return turn;
  }

  private async takeTurn(): Promise<void> {
    const member = randomBytes(8).toString("hex");
    for (;;) {
      if (this.stopped) throw new Error("the rate limiter was stopped");
      const waitMs = Number(
        await this.redis.eval(
          TAKE_TURN_LUA,
          2,
          this.key,
          this.rateKey,
          this.perWindow,
          this.windowMs,
          member,
        ),
      );
      if (waitMs === 0) return;
      await new Promise((resolve) => setTimeout(resolve, Math.min(waitMs, MAX_SLEEP_MS)));
    }
  }

  stop(): void {
    this.stopped = true;
  }
}
