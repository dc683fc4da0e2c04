/**
 * Lets one operation's calls go at `tps` on average, in the form the
 * service counts them: at most N calls in any window, N = tps x window,
 * judged on the moments calls are actually let go.
 *
 * The window is 1/share of a second, where share is the part of each quota
 * a station sends at (QUOTA_SHARE_DEFAULT 0.9, `--headroom 10`): N is then
 * the quota itself, and a call may arrive up to (1/share - 1) of a second
 * earlier than its turn (network, a busy service; ~111 ms at 0.9, ~53 ms at
 * 0.95) before the service's one-second window could see N + 1.
 *
 * Why not a schedule computed in advance (Bottleneck's local mode gives each
 * queued call its start time when it is queued): after the event loop was
 * busy for a while (2 cores shared with twins and a service), every overdue
 * call goes in the same tick AND the schedule carries on, so one second
 * gets more calls than the quota (the benchmark saw them refused). Why not
 * plain even spacing timed from the last call: it never makes up a stall,
 * and the lost time is lost throughput (~10% on a loaded box). The window
 * makes up a stall only as far as the quota allows, at most twice as fast
 * as the average rate.
 */

/**
 * The part of each quota a station sends at unless told otherwise. AWS (and
 * the local AWS IoT) count requests in a sliding second; calls sent evenly
 * at exactly the quota arrive unevenly (network, event loops, a busy
 * service), and a request that arrives early puts one too many into some
 * window. `--headroom PCT` trades that margin for throughput
 * (docs/decisions.md D9).
 */
export const QUOTA_SHARE_DEFAULT = 0.9;

/** The pacing window for a station that sends at `share` of each quota. */
export function pacingWindowMs(share: number = QUOTA_SHARE_DEFAULT): number {
  if (!(share > 0 && share <= 1)) throw new TypeError(`quota share must be in (0, 1], got ${share}`);
  return 1000 / share;
}

export const PACING_WINDOW_MS = pacingWindowMs();

/** Calls allowed per window, and the least gap between two (catching up at most twice as fast). */
export function windowShare(
  tps: number,
  windowMs: number = PACING_WINDOW_MS,
): { perWindow: number; minGapMs: number } {
  if (!(tps > 0)) throw new TypeError(`rate must be > 0, got ${tps}`);
  // The epsilon keeps 4.5/s x 1111.1 ms = 5 from rounding down to 4.
  const perWindow = Math.max(1, Math.floor((tps * windowMs) / 1000 + 1e-9));
  return { perWindow, minGapMs: windowMs / perWindow / 2 };
}

export class Pacer {
  /** Start times inside the current window, oldest first. */
  private readonly starts: number[] = [];
  private readonly waiting: { resolve: () => void; reject: (e: Error) => void }[] = [];
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private perWindow = 1;
  private minGapMs = 0;

  constructor(
    tps: number,
    private readonly windowMs: number = PACING_WINDOW_MS,
  ) {
    this.setRate(tps);
  }

  setRate(tps: number): void {
    ({ perWindow: this.perWindow, minGapMs: this.minGapMs } = windowShare(tps, this.windowMs));
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
      this.pump();
    }
  }

  /** Resolves when the caller may start its call. */
  acquire(): Promise<void> {
    if (this.stopped) return Promise.reject(new Error("the rate limiter was stopped"));
    return new Promise((resolve, reject) => {
      this.waiting.push({ resolve, reject });
      this.pump();
    });
  }

  /** When the next call may go: after the minimum gap, and once the window has room. */
  private nextStartMs(): number {
    const last = this.starts.at(-1) ?? Number.NEGATIVE_INFINITY;
    const full =
      this.starts.length >= this.perWindow
        ? (this.starts[this.starts.length - this.perWindow] as number) + this.windowMs
        : Number.NEGATIVE_INFINITY;
    return Math.max(last + this.minGapMs, full);
  }

  private pump(): void {
    if (this.timer !== undefined || this.waiting.length === 0) return;
    const now = performance.now();
    while (this.starts.length > 0 && (this.starts[0] as number) <= now - this.windowMs) this.starts.shift();
    if (now >= this.nextStartMs()) {
      this.starts.push(now);
      this.waiting.shift()?.resolve();
      if (this.waiting.length === 0) return;
    }
    this.timer = setTimeout(
      () => {
        this.timer = undefined;
        this.pump();
      },
      Math.max(0, this.nextStartMs() - performance.now()),
    );
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    for (const w of this.waiting.splice(0)) w.reject(new Error("the rate limiter was stopped"));
  }
}
