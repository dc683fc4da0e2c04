// The line view: one column per station, each kept from that station's
// events, which this page's own server relays (/station/N/events).
import { applySnapshot, applyUpdate, createModel } from "./model.js";
import { el, renderChart, renderFailures, renderTile, renderTotals, statusText, updateElapsed } from "./render.js";

const columns = [];

function drawColumn(c) {
  const { model } = c;
  const head = el("header", "station-head");
  head.append(el("h2", "station-name", model.info.stationId ?? c.label), el("span", "station-label", c.label));
  const status = el("div", "status", c.problem ?? statusText(model));
  status.dataset.status = model.connected ? model.status : "disconnected";
  const where = [model.info.target, model.info.account && `account ${model.info.account}`, model.info.region]
    .filter(Boolean)
    .join(" · ");
  const tiles = el("div", "tiles compact-tiles");
  for (const slot of model.slots.values()) tiles.append(renderTile(slot, model, { compact: true }));
  c.root.replaceChildren(
    head,
    status,
    el("div", "target", where),
    renderTotals(model),
    renderChart(model, { width: Math.max(300, c.root.clientWidth - 24), height: 80 }),
    tiles,
    el("h3", "", "Last failures"),
    renderFailures(model, 3),
  );
  c.root.dataset.connected = String(model.connected);
}

function drawLineTotals() {
  const sum = (k) => columns.reduce((a, c) => a + (c.model.totals[k] ?? 0), 0);
  const rate = columns.reduce((a, c) => a + c.model.totals.devicesPerMin, 0);
  lineTotals.textContent = `${columns.length} stations: ${sum("done")} done, ${sum("failed")} failed, ${sum("inFlight")} in flight, ${rate.toFixed(1)} devices/min`;
}

function watch(c) {
  const events = new EventSource(`/station/${c.index}/events`);
  events.addEventListener("snapshot", (e) => {
    c.problem = undefined;
    applySnapshot(c.model, JSON.parse(e.data));
    c.dirty = true;
  });
  events.addEventListener("update", (e) => {
    applyUpdate(c.model, JSON.parse(e.data));
    c.dirty = true;
  });
  events.addEventListener("unreachable", (e) => {
    c.model.connected = false;
    c.problem = JSON.parse(e.data).message;
    c.dirty = true;
  });
  events.addEventListener("error", () => {
    c.model.connected = false;
    c.dirty = true;
  });
}

const header = el("header", "top");
const title = el("h1", "");
title.append(el("span", "brand", "provision "), "line view");
const lineTotals = el("div", "status");
lineTotals.id = "line-totals";
lineTotals.setAttribute("role", "status");
header.append(title, lineTotals);
const container = el("main", "stations");
document.body.append(header, container);

const labels = await (await fetch("/stations.json")).json();
labels.forEach((label, index) => {
  const root = el("section", "station-column");
  root.dataset.station = String(index);
  container.append(root);
  const c = { index, label, root, model: createModel(), dirty: true, problem: undefined };
  columns.push(c);
  watch(c);
});

// Several stations' events: drawn at most a few times a second, not once per event.
setInterval(() => {
  for (const c of columns) {
    if (c.dirty) drawColumn(c);
    c.dirty = false;
    updateElapsed(c.root, c.model);
  }
  drawLineTotals();
}, 400);
