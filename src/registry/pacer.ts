/**
 * Spaces the starts of one operation's calls at least `minTimeMs` apart,
 * measured between the moments calls are actually let go.
 *
 * Why not a schedule computed in advance (Bottleneck's local mode gives each
 * queued call its start time when it is queued): when the event loop is
 * busy for a while (2 cores shared with twins and a service), every call
 * whose time has passed is let go in the same tick, and a burst like that
 * puts more calls into one second than a sliding-window quota allows (the
 * benchmark saw it refused under load). Here the next call's time is set
 * only when the previous one goes, so a stall delays calls but never
 * bunches them.
 */
export class Pacer {
  private lastStartMs = Number.NEGATIVE_INFINITY;
  private readonly waiting: { resolve: () => void; reject: (e: Error) => void }[] = [];
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(private minTimeMs: number) {}

  setMinTime(ms: number): void {
    this.minTimeMs = ms;
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

  private pump(): void {
    if (this.timer !== undefined || this.waiting.length === 0) return;
    const now = performance.now();
    const due = this.lastStartMs + this.minTimeMs;
    if (now >= due) {
      this.lastStartMs = now;
      this.waiting.shift()?.resolve();
      if (this.waiting.length === 0) return;
    }
    this.timer = setTimeout(
      () => {
        this.timer = undefined;
        this.pump();
      },
      Math.max(0, this.lastStartMs + this.minTimeMs - performance.now()),
    );
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    for (const w of this.waiting.splice(0)) w.reject(new Error("the rate limiter was stopped"));
  }
}
