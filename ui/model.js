// The page's copy of a station's state, kept from the station's events
// (src/station-ui/state.ts sends them): a snapshot when the page connects,
// then what changed. Pure functions, no DOM: the views draw from here.

/** The steps of one device, in order, as the terminal view names them. */
export const STEPS = [
  ["flash", "flash"],
  ["hello", "hello"],
  ["key", "key"],
  ["csr", "CSR"],
  ["register", "register"],
  ["credentials", "credentials"],
  ["commit", "commit"],
  ["firstPublish", "first publish"],
];

/** Phases that belong to a step of STEPS (the baud switch is part of meeting the device). */
const STEP_OF_PHASE = { baud: "hello", restartCheck: "firstPublish" };

/** The rate over the last minute (or the shift, while it is younger). */
export const RATE_WINDOW_MS = 60_000;

export function createModel() {
  return {
    connected: false,
    status: "starting",
    info: {},
    slots: new Map(),
    totals: { done: 0, failed: 0, inFlight: 0, waiting: 0, devicesPerMin: 0 },
    rate: { from: 0, bucketMs: 10_000, buckets: [] },
    failures: [],
    /** Station clock minus page clock: elapsed times are counted on the station's. */
    clockOffset: 0,
  };
}

export function applySnapshot(model, snap) {
  model.connected = true;
  model.status = snap.status;
  model.info = snap.info;
  model.slots = new Map(snap.slots.map((s) => [s.slot, s]));
  model.totals = snap.totals;
  model.rate = { from: snap.rate.from, bucketMs: snap.rate.bucketMs, buckets: snap.rate.buckets.map((b) => [...b]) };
  model.failures = snap.failures;
  model.clockOffset = snap.now - Date.now();
}

/** Applies an update; returns the names of the slots it changed. */
export function applyUpdate(model, update) {
  model.status = update.status;
  if (update.info) model.info = update.info;
  for (const s of update.slots) model.slots.set(s.slot, s);
  model.totals = update.totals;
  const { rate } = model;
  for (const [at, ok] of update.finished) {
    if (rate.buckets.length === 0) rate.from = at - (at % rate.bucketMs);
    const i = Math.floor((at - rate.from) / rate.bucketMs);
    if (i < 0) continue;
    while (rate.buckets.length <= i) rate.buckets.push([0, 0]);
    rate.buckets[i][ok ? 0 : 1]++;
  }
  if (update.failures.length > 0) model.failures = [...[...update.failures].reverse(), ...model.failures].slice(0, 20);
  model.clockOffset = update.now - Date.now();
  return update.slots.map((s) => s.slot);
}

export function stationNow(model) {
  return Date.now() + model.clockOffset;
}

/**
 * The steps of a running slot, each "done", "current" or "todo": the flash
 * only when the station flashes, and the last one as the station ends a run.
 */
export function stepStates(slot, info) {
  const current = STEP_OF_PHASE[slot.phase] ?? slot.phase;
  const index = STEPS.findIndex(([id]) => id === current);
  const steps = STEPS.filter(([id]) => id !== "flash" || info.flash || current === "flash");
  return steps.map(([id, label]) => {
    const at = STEPS.findIndex(([s]) => s === id);
    const shown = id === "firstPublish" && info.until?.startsWith("committed") ? "restart check" : label;
    return { id, label: shown, state: at < index ? "done" : at === index ? "current" : "todo" };
  });
}

export function isRunning(slot) {
  return slot.phase !== "waiting" && slot.phase !== "done" && slot.phase !== "failed";
}

export function secondsText(ms) {
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const s = Math.floor(ms / 1000);
  return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, "0")} s`;
}

/**
 * Devices per minute over time: at each bucket's end (the last one: now),
 * the devices finished in the RATE_WINDOW_MS before it (ok and failed
 * apart), over the part of that window the shift has lasted.
 */
export function rateSeries(model, now) {
  const { from, bucketMs, buckets } = model.rate;
  const points = [];
  if (buckets.length === 0) return points;
  const last = Math.max(buckets.length, Math.ceil((now - from) / bucketMs));
  const per = Math.round(RATE_WINDOW_MS / bucketMs);
  for (let i = 0; i < last; i++) {
    let ok = 0;
    let failed = 0;
    for (let j = Math.max(0, i - per + 1); j <= i; j++) {
      ok += buckets[j]?.[0] ?? 0;
      failed += buckets[j]?.[1] ?? 0;
    }
    const t = Math.min(from + (i + 1) * bucketMs, Math.max(now, from + i * bucketMs + 1));
    const windowMs = t - Math.max(from, from + (i - per + 1) * bucketMs);
    points.push({ t, ok: (ok * 60_000) / windowMs, failed: (failed * 60_000) / windowMs });
  }
  return points;
}
