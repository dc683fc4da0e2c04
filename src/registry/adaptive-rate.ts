/**
 * Additive-increase / multiplicative-decrease of one operation's request
 * rate, driven by the service's answers: a ThrottlingException halves the
 * rate (at most once per second, since one burst of refusals is one
 * signal), and every second without one gives back a tenth of the target.
 * A quota that is lower than the station was told (another client on the
 * account, a wrong --quota) thus costs a few retries, not failed devices.
 * Pure apart from the clock it is handed.
 */
export const DECREASE_FACTOR = 0.5;
export const INCREASE_PER_SECOND = 0.1;
/** Never below this share of the target: a stuck rate would starve the queue. */
export const FLOOR_SHARE = 0.05;
const SIGNAL_INTERVAL_MS = 1000;

export class AdaptiveRate {
  private currentTps: number;
  private lastDecreaseMs = Number.NEGATIVE_INFINITY;
  private lastIncreaseMs = Number.NEGATIVE_INFINITY;

  constructor(private targetTps: number) {
    if (!(targetTps > 0)) throw new TypeError(`target rate must be > 0, got ${targetTps}`);
    this.currentTps = targetTps;
  }

  get tps(): number {
    return this.currentTps;
  }

  get target(): number {
    return this.targetTps;
  }

  /** A new target (quota read or overridden) resets the rate to it. */
  setTarget(tps: number): void {
    if (!(tps > 0)) throw new TypeError(`target rate must be > 0, got ${tps}`);
    this.targetTps = tps;
    this.currentTps = tps;
  }

  /** The service refused for rate; true when the rate changed. */
  throttled(nowMs: number): boolean {
    if (nowMs - this.lastDecreaseMs < SIGNAL_INTERVAL_MS) return false;
    this.lastDecreaseMs = nowMs;
    this.lastIncreaseMs = nowMs;
    const next = Math.max(this.targetTps * FLOOR_SHARE, this.currentTps * DECREASE_FACTOR);
    const changed = next !== this.currentTps;
    this.currentTps = next;
    return changed;
  }

  /** The service accepted a request; true when the rate changed (a step back towards the target). */
  accepted(nowMs: number): boolean {
    if (this.currentTps >= this.targetTps) return false;
    const seconds = Math.floor((nowMs - this.lastIncreaseMs) / SIGNAL_INTERVAL_MS);
    if (seconds < 1) return false;
    this.lastIncreaseMs = nowMs;
    this.currentTps = Math.min(
      this.targetTps,
      this.currentTps + seconds * this.targetTps * INCREASE_PER_SECOND,
    );
    return true;
  }
}
