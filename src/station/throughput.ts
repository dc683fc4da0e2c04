/**
 * Devices per minute the way a factory line lives it: over the steady part
 * of a run through S slots, leaving out the ramp-up (every slot starting at
 * once, their first devices finishing in a bunch) and the tail (the last S
 * devices, when slots run dry one by one).
 */
export interface Throughput {
  devicesPerMin: number;
  /** Devices finished inside the window measured. */
  devices: number;
  windowMs: number;
  /** false: too few devices for a steady part (M <= 2S); the figure is over the whole run. */
  steady: boolean;
}

/** From the times devices finished (any order) and the time the first was taken. */
export function steadyThroughput(
  finishedAtMs: readonly number[],
  slots: number,
  startedAtMs: number,
): Throughput {
  const t = [...finishedAtMs].sort((a, b) => a - b);
  const n = t.length;
  const rate = (devices: number, windowMs: number, steady: boolean): Throughput => ({
    devicesPerMin: windowMs > 0 ? (devices * 60_000) / windowMs : 0,
    devices,
    windowMs,
    steady,
  });
  if (n > 2 * slots) {
    // From the S-th finish (every slot busy with its second device) to the moment the last device was plugged.
    const from = t[slots - 1] as number;
    const to = t[n - slots - 1] as number;
    return rate(n - 2 * slots, to - from, true);
  }
  return rate(n, (t[n - 1] ?? startedAtMs) - startedAtMs, false);
}
