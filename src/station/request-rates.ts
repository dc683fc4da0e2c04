/**
 * Peak request rate per operation, from cumulative request counters sampled
 * on a clock (the local AWS IoT's stats()). Used by the station benchmark
 * and tests to show the station stays under the service's per-second limit.
 */
export interface RateSampler {
  /** Stops sampling; per operation, the most requests seen in any window of at most 1 s between two samples. */
  stop(): Record<string, number>;
}

export const RATE_WINDOW_MS = 1000;

/** Pure: peak count within any window of at most windowMs, from cumulative samples in time order. */
export function peakPerWindow(
  samples: readonly { t: number; counts: Record<string, number> }[],
  windowMs = RATE_WINDOW_MS,
): Record<string, number> {
  const max: Record<string, number> = {};
  let j = 0;
  for (const end of samples) {
    while ((samples[j]?.t ?? end.t) < end.t - windowMs) j++;
    const start = samples[j] ?? end;
    for (const [op, n] of Object.entries(end.counts)) {
      max[op] = Math.max(max[op] ?? 0, n - (start.counts[op] ?? 0));
    }
  }
  return max;
}

export function sampleRequestRates(readCounts: () => Record<string, number>, everyMs = 20): RateSampler {
  const samples: { t: number; counts: Record<string, number> }[] = [];
  const take = () => samples.push({ t: performance.now(), counts: readCounts() });
  take();
  const timer = setInterval(take, everyMs);
  return {
    stop() {
      clearInterval(timer);
      take();
      return peakPerWindow(samples);
    },
  };
}
