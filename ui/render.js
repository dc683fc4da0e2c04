// Drawing a station's state into the DOM. Everything a device or the
// station sent is set as text (textContent, SVG text nodes), never parsed as
// markup: a device that prints <script> or <img onerror> shows those
// characters. No innerHTML anywhere in the page's code.
import { isRunning, rateSeries, secondsText, stationNow, stepStates } from "./model.js";

const SVG = "http://www.w3.org/2000/svg";

/** An element with a class and text content. */
export function el(tag, className, text) {
  const e = document.createElement(tag);
  if (className) e.className = className;
  if (text !== undefined && text !== null) e.textContent = String(text);
  return e;
}

function svg(tag, attrs) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  return e;
}

/** A labelled value (`label: value`) for the details lists. */
export function pair(label, value) {
  const row = el("div", "pair");
  row.append(el("span", "pair-label", label), el("span", "pair-value", value ?? "-"));
  return row;
}

function stepBar(slot, info) {
  const bar = el("ol", "steps");
  for (const step of stepStates(slot, info)) {
    const item = el("li", `step step-${step.state}`, step.label);
    if (step.state === "current") item.setAttribute("aria-current", "step");
    bar.append(item);
  }
  return bar;
}

function failureBody(result, container) {
  container.append(el("div", "error-code", result.outcome));
  if (result.message) container.append(el("div", "error-message", result.message));
  if (result.hint) container.append(el("div", "hint", `what to do: ${result.hint}`));
  if (result.rollback) container.append(el("div", "rollback", `cloud: ${result.rollback}`));
  if (result.deviceLog?.length) {
    const log = el("pre", "device-log");
    log.textContent = result.deviceLog.join("\n");
    container.append(el("div", "device-log-title", "last device log lines"), log);
  }
}

/** One slot: where it is, which device, its step or its result in large. */
export function renderTile(slot, model, { compact = false } = {}) {
  const tile = el("section", `tile phase-${slot.phase}${compact ? " compact" : ""}`);
  tile.dataset.slot = slot.slot;
  tile.dataset.phase = slot.phase;
  const head = el("header", "tile-head");
  head.append(el("span", "slot-name", slot.slot));
  if (slot.port !== slot.slot) head.append(el("span", "port", slot.port));
  tile.append(head);
  const device = slot.deviceId ?? slot.last?.deviceId;
  const thing = slot.thingName ?? slot.last?.thingName;
  if (!compact) {
    const who = el("div", "device");
    who.append(el("span", "device-id", device ?? "no device yet"));
    if (thing) who.append(el("span", "thing-name", thing));
    tile.append(who);
  }
  const body = el("div", "tile-body");
  if (slot.phase === "done" && slot.last) {
    body.append(el("div", "result result-ok", "DONE"));
    if (!compact)
      body.append(el("div", "result-detail", `${slot.last.outcome} in ${secondsText(slot.last.totalMs)}`));
  } else if (slot.phase === "failed" && slot.last) {
    body.append(el("div", "result result-failed", "FAILED"));
    if (compact) body.append(el("div", "error-code", slot.last.outcome));
    else failureBody(slot.last, body);
  } else if (isRunning(slot)) {
    body.append(el("div", "step-name", slot.step));
    if (!compact) body.append(stepBar(slot, model.info));
    if (slot.progress !== undefined) {
      const p = el("progress", "step-progress");
      p.max = 1;
      p.value = slot.progress;
      body.append(p);
    }
    const elapsed = el("div", "elapsed");
    elapsed.dataset.startedAt = String(slot.startedAt ?? "");
    body.append(elapsed);
    if (slot.note && !compact) body.append(el("div", "note", slot.note));
  } else {
    body.append(el("div", "step-name waiting", slot.note ?? "waiting"));
  }
  tile.append(body);
  if (!compact)
    tile.append(el("footer", "tile-foot", `${slot.okCount} done, ${slot.failedCount} failed in this slot`));
  updateElapsed(tile, model);
  return tile;
}

/** Moves the elapsed times on (between events: the page's clock, set to the station's). */
export function updateElapsed(root, model) {
  const now = stationNow(model);
  for (const e of root.querySelectorAll(".elapsed")) {
    const started = Number(e.dataset.startedAt);
    e.textContent = started > 0 ? secondsText(Math.max(0, now - started)) : "";
  }
}

/** Done / failed / in flight / waiting, and the rate against the quota-bound one. */
export function renderTotals(model) {
  const t = model.totals;
  const box = el("div", "totals");
  const card = (id, label, value) => {
    const c = el("div", `total total-${id}`);
    const v = el("div", "total-value", value);
    v.dataset.total = id;
    c.append(v, el("div", "total-label", label));
    return c;
  };
  box.append(
    card("done", "done", t.done),
    card("failed", "failed", t.failed),
    card("in-flight", "in flight", t.inFlight),
    card("waiting", "waiting", t.waiting),
  );
  const bound = model.info.binding?.devicesPerMin;
  const rate = el("div", "total total-rate");
  const value = el("div", "total-value", t.devicesPerMin.toFixed(1));
  value.dataset.total = "rate";
  rate.append(value, el("div", "total-label", bound ? `devices/min of ${bound} quota-bound` : "devices/min"));
  if (bound) {
    const m = el("meter", "rate-meter");
    m.min = 0;
    m.max = bound;
    m.value = Math.min(t.devicesPerMin, bound);
    rate.append(m);
  }
  box.append(rate);
  return box;
}

/** Devices per minute over the shift (a one-minute window), with the quota-bound rate as a line. */
export function renderChart(model, { width = 600, height = 120 } = {}) {
  const now = stationNow(model);
  const points = rateSeries(model, now);
  const bound = model.info.binding?.devicesPerMin ?? 0;
  const top = Math.max(1, bound, ...points.map((p) => p.ok + p.failed)) * 1.1;
  const chart = svg("svg", { class: "chart", viewBox: `0 0 ${width} ${height}`, role: "img" });
  chart.append(svg("title", {}));
  chart.firstChild.textContent = "devices per minute over the shift";
  if (points.length === 0) {
    const t = svg("text", { x: 8, y: height / 2, class: "chart-empty" });
    t.textContent = "the rate is drawn once the first device is done";
    chart.append(t);
    return chart;
  }
  const t0 = model.rate.from;
  const span = Math.max(points[points.length - 1].t - t0, model.rate.bucketMs);
  const x = (t) => ((t - t0) / span) * (width - 4) + 2;
  const y = (v) => height - 2 - (v / top) * (height - 16);
  const line = (key, cls) =>
    svg("polyline", {
      class: cls,
      points: [`${x(t0)},${y(0)}`, ...points.map((p) => `${x(p.t)},${y(p[key])}`)].join(" "),
    });
  if (bound > 0) {
    chart.append(svg("line", { class: "chart-bound", x1: 0, x2: width, y1: y(bound), y2: y(bound) }));
    const label = svg("text", { x: 6, y: y(bound) - 4, class: "chart-label" });
    label.textContent = `${bound}/min quota-bound`;
    chart.append(label);
  }
  chart.append(line("ok", "chart-ok"), line("failed", "chart-failed"));
  return chart;
}

/** The newest failures with their hints. */
export function renderFailures(model, limit = 20) {
  const list = el("ol", "failures");
  if (model.failures.length === 0) list.append(el("li", "none", "no failures"));
  for (const f of model.failures.slice(0, limit)) {
    const item = el("li", "failure");
    const head = el("div", "failure-head");
    head.append(
      el("span", "failure-time", new Date(f.at).toLocaleTimeString()),
      el("span", "slot-name", f.slot),
      el("span", "device-id", f.deviceId ?? "?"),
      el("span", "failure-step", f.failedStep ? `at ${f.failedStep}` : ""),
    );
    item.append(head);
    failureBody(f, item);
    list.append(item);
  }
  return list;
}

/** The station: where it provisions to, with which quotas, into which files. */
export function renderInfo(info) {
  const box = el("div", "details");
  box.append(
    pair("target", info.target),
    pair("account", info.account ?? "(learnt from the first certificate)"),
    pair("region", info.region),
    pair("control plane", info.endpoint),
    pair("quotas from", info.quotaSource),
    pair("binds", info.binding ? `${info.binding.operation}: ${info.binding.devicesPerMin} devices/min` : undefined),
    pair("ledger", info.ledger),
    pair("manifest", info.manifest ? `${info.manifest.csv}, ${info.manifest.jsonl}` : undefined),
    pair("ports", info.ports),
    pair("concurrency", info.concurrency),
    pair("each run ends at", info.until),
  );
  if (info.rateStore) box.append(pair("shared budget", info.rateStore));
  return box;
}

const STATUS_TEXT = {
  starting: "starting",
  running: "running",
  finished: "through its ports (Ctrl-C on the station ends it)",
  stopping: "stopping",
};

export function statusText(model) {
  if (!model.connected) return "not connected: the station is stopped or unreachable (retrying)";
  return STATUS_TEXT[model.status] ?? model.status;
}
