/**
 * Per-operation client-side rate limits for a station running many ports
 * against one account: one limiter per AWS IoT operation, because AWS's
 * quotas are per operation (src/cloud/iot-quotas.ts). The limiter is also
 * where throttling is answered: a ThrottlingException slows the shared
 * limiter for that operation (adaptive-rate.ts) and the call goes back into
 * its queue, instead of every device backing off on its own timer and
 * coming back at the same moment.
 *
 * In-process by default (pacer.ts); with a RateStore (Redis) every station
 * on the same store and scope shares one budget per operation
 * (redis-pacer.ts), by the same rule.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { IOT_API_TPS_DEFAULT, IOT_RATE_UNLISTED_TPS } from "../cloud/iot-quotas.js";
import { ProvisionError } from "../errors.js";
import { AdaptiveRate } from "./adaptive-rate.js";
import { isThrottlingError } from "./aws-errors.js";
import { Pacer, pacingWindowMs } from "./pacer.js";
import { plainRedisError, type RateStore } from "./rate-store.js";
import { RedisPacer } from "./redis-pacer.js";

export { IOT_API_TPS_DEFAULT };
/** Operations without a published figure (GetPolicy, DescribeCertificate, ...). */
export const IOT_API_TPS_UNLISTED = IOT_RATE_UNLISTED_TPS;
/** A throttled call goes back into its operation's queue at most this often before the error stands. */
export const THROTTLE_REQUEUES_DEFAULT = 8;

export type RateLimits = Partial<Record<string, number>>;

export interface OperationRateLimiterOptions {
  /** Requests/s per operation; operations not named get IOT_API_TPS_UNLISTED. */
  tps?: RateLimits;
  /** Shared state for several stations; default: this process only. */
  store?: RateStore;
  /** Names the budget in the store (e.g. the region): stations share only with the same scope. */
  scope?: string;
  throttleRequeues?: number;
  /**
   * The part of each quota the rates given are (QUOTA_SHARE_DEFAULT 0.9):
   * sets the pacing window so that N per window is the quota itself.
   */
  share?: number;
}

export interface OperationRateStats {
  /** Calls started (a requeued call counts each time). */
  calls: number;
  /** ThrottlingException answers seen. */
  throttled: number;
  /** Time calls spent queued, summed and at most. */
  waitMsTotal: number;
  waitMsMax: number;
  /** The rate the limiter runs at now, and the one it returns to. */
  tps: number;
  targetTps: number;
}

/** Where one operation's calls wait for their turn: this process, or Redis. */
type Turns = Pacer | RedisPacer;

interface OperationState {
  rate: AdaptiveRate;
  turns: Promise<Turns>;
  /** With a store: the turns undo calls take, in this process only (asUndo). */
  local?: Pacer;
  stats: OperationRateStats;
}

const undoing = new AsyncLocalStorage<true>();

/**
 * Runs `fn` as an undo (a rollback, a cleanup, a retirement): its calls take
 * their turns in this process at the station's rates (the published quotas'
 * share), never in a shared rate store. A rollback must finish, with Redis
 * gone too (it was waiting on a dead Redis that left a certificate ACTIVE
 * and unattached); rollbacks are rare, so their calls outside the shared
 * count are noise against the headroom.
 */
export function asUndo<T>(fn: () => Promise<T>): Promise<T> {
  return undoing.run(true, fn);
}

export class OperationRateLimiter {
  private readonly operations = new Map<string, OperationState>();
  private tps: RateLimits;
  private readonly store: RateStore | undefined;
  private scope: string;
  private readonly throttleRequeues: number;
  private readonly windowMs: number;

  constructor(options: OperationRateLimiterOptions = {}) {
    this.windowMs = pacingWindowMs(options.share);
    this.tps = { ...IOT_API_TPS_DEFAULT, ...options.tps };
    this.store = options.store;
    this.scope = options.scope ?? "default";
    this.throttleRequeues = options.throttleRequeues ?? THROTTLE_REQUEUES_DEFAULT;
  }

  tpsFor(operation: string): number {
    return this.tps[operation] ?? IOT_API_TPS_UNLISTED;
  }

  /**
   * New targets (quotas read after start-up); operations already running
   * switch at once. `scope` (e.g. the region) names the shared budget in a
   * store; it applies to operations not used yet, so give it before traffic.
   */
  configure(tps: RateLimits, scope?: string): void {
    this.tps = { ...this.tps, ...tps };
    if (scope !== undefined) this.scope = scope;
    for (const [operation, state] of this.operations) {
      const target = this.tpsFor(operation);
      if (target === state.rate.target) continue;
      state.rate.setTarget(target);
      this.apply(state);
    }
  }

  private state(operation: string): OperationState {
    let state = this.operations.get(operation);
    if (state === undefined) {
      const rate = new AdaptiveRate(this.tpsFor(operation));
      state = {
        rate,
        turns: this.newTurns(operation, rate.tps),
        stats: {
          calls: 0,
          throttled: 0,
          waitMsTotal: 0,
          waitMsMax: 0,
          tps: rate.tps,
          targetTps: rate.target,
        },
      };
      this.operations.set(operation, state);
    }
    return state;
  }

  private async newTurns(operation: string, tps: number): Promise<Turns> {
    if (this.store === undefined) return new Pacer(tps, this.windowMs);
    const key = `provision:pace:${this.scope}:${operation}`;
    const pacer = new RedisPacer(this.store.redis, key, tps, this.windowMs);
    // The quotas just read win over what an earlier station left in Redis.
    await pacer.setRate(tps);
    return pacer;
  }

  private apply(state: OperationState): void {
    state.stats.tps = state.rate.tps;
    state.stats.targetTps = state.rate.target;
    const tps = state.rate.tps;
    // Fire and forget: a failed update (Redis gone) shows up at the next turn.
    state.turns.then((t) => t.setRate(tps)).catch(() => undefined);
    state.local?.setRate(tps);
  }

  /**
   * Waits for the operation's next turn. Take it as close to the moment the
   * request is written as possible (the registry does, in the SDK's
   * middleware right before the HTTP handler): time spent between a turn and
   * the write, on a busy machine, is time by which calls can bunch.
   */
  async turn(operation: string): Promise<void> {
    const state = this.state(operation);
    const queuedAt = Date.now();
    if (this.store !== undefined && undoing.getStore() === true) {
      state.local ??= new Pacer(state.rate.tps, this.windowMs);
      await state.local.acquire();
    } else {
      try {
        await (await state.turns).acquire();
      } catch (e) {
        throw this.storeFailure(operation, e);
      }
    }
    const waitMs = Date.now() - queuedAt;
    state.stats.calls++;
    state.stats.waitMsTotal += waitMs;
    state.stats.waitMsMax = Math.max(state.stats.waitMsMax, waitMs);
  }

  /**
   * Runs fn, which takes its own turn(s) (`turn`), and answers throttling:
   * a throttled answer slows the operation down and runs fn again, up to
   * throttleRequeues times; any other outcome is fn's own.
   */
  async run<T>(operation: string, fn: () => Promise<T>): Promise<T> {
    const state = this.state(operation);
    for (let requeues = 0; ; requeues++) {
      try {
        const out = await fn();
        if (state.rate.accepted(Date.now())) this.apply(state);
        return out;
      } catch (e) {
        if (!isThrottlingError(e) || requeues >= this.throttleRequeues) throw e;
        state.stats.throttled++;
        if (state.rate.throttled(Date.now())) this.apply(state);
      }
    }
  }

  /** run() for a fn that does not take its turn itself: the turn comes first. */
  schedule<T>(operation: string, fn: () => Promise<T>): Promise<T> {
    return this.run(operation, async () => {
      await this.turn(operation);
      return fn();
    });
  }

  /** A turn that fails is the limiter failing: with a store, that is the store. */
  private storeFailure(operation: string, e: unknown): unknown {
    if (this.store === undefined) return e;
    const where = this.store.description;
    return new ProvisionError(
      "CONFIG",
      `the shared rate store ${where} cannot be reached (${plainRedisError(e)}): ${operation} could not take its turn in the stations' shared budget`,
      {
        where,
        cause: e,
        hint: "bring that Redis back, then start the station again: failed devices are retried (a registration this stopped was rolled back without Redis); without a rate store the station limits itself alone",
      },
    );
  }

  /** Per operation used so far. */
  stats(): Record<string, OperationRateStats> {
    return Object.fromEntries([...this.operations].map(([op, s]) => [op, { ...s.stats }]));
  }

  async stop(): Promise<void> {
    await Promise.all(
      [...this.operations.values()].map(async (s) => {
        const turns = await s.turns.catch(() => undefined);
        turns?.stop();
        s.local?.stop();
      }),
    );
  }
}
