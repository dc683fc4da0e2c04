// The station's page: one EventSource on the station's /events, a model
// kept from it (model.js), the DOM drawn from the model (render.js). Only
// what an update changed is drawn again: the page shares a small machine
// with the station it watches.
import { applySnapshot, applyUpdate, createModel } from "./model.js";
import {
  el,
  renderChart,
  renderFailures,
  renderInfo,
  renderTile,
  renderTotals,
  statusText,
  updateElapsed,
} from "./render.js";

const model = createModel();
const tiles = new Map();

function section(className, label, ...children) {
  const s = el("section", className);
  if (label) s.setAttribute("aria-label", label);
  s.append(...children);
  return s;
}

function panel(title, body) {
  const p = el("div", "panel");
  p.append(el("h2", "", title), body);
  return p;
}

// The page's frame: header, the shift, the tiles, failures and details.
const ui = {
  stationId: el("span", "station-id"),
  status: el("div", "status"),
  target: el("div", "target"),
  totals: el("div", "totals-box"),
  chart: el("div", "chart-box"),
  tiles: section("tiles", "slots"),
  failures: el("div", "failures-box"),
  details: el("div", "details-box"),
};
ui.status.id = "status";
ui.status.setAttribute("role", "status");
const title = el("h1", "", "");
title.append(el("span", "brand", "provision station "), ui.stationId);
const header = el("header", "top");
header.append(title, ui.status, ui.target);
const main = el("main", "");
main.append(
  section("shift", "shift", ui.totals, ui.chart),
  ui.tiles,
  section("lower", "", panel("Last failures", ui.failures), panel("Station", ui.details)),
);
document.body.append(header, main);

function drawHeader() {
  ui.stationId.textContent = model.info.stationId ?? "";
  document.title = `${model.info.stationId ?? "station"}: ${model.totals.done} done, ${model.totals.failed} failed`;
  ui.status.textContent = statusText(model);
  ui.status.dataset.status = model.connected ? model.status : "disconnected";
  ui.target.textContent = [model.info.target, model.info.account && `account ${model.info.account}`, model.info.region]
    .filter(Boolean)
    .join(" · ");
}

function drawTile(name) {
  const slot = model.slots.get(name);
  if (!slot) return;
  const tile = renderTile(slot, model);
  const old = tiles.get(name);
  if (old) old.replaceWith(tile);
  else ui.tiles.append(tile);
  tiles.set(name, tile);
}

// Drawn at the box's own width (the SVG is not stretched: its text and lines stay as drawn).
const drawChart = () =>
  ui.chart.replaceChildren(renderChart(model, { width: Math.max(300, ui.chart.clientWidth - 16), height: 120 }));
addEventListener("resize", () => model.connected && drawChart());

function drawAll() {
  drawHeader();
  ui.totals.replaceChildren(renderTotals(model));
  drawChart();
  ui.failures.replaceChildren(renderFailures(model));
  ui.details.replaceChildren(renderInfo(model.info));
  ui.tiles.replaceChildren();
  tiles.clear();
  for (const name of model.slots.keys()) drawTile(name);
}

const events = new EventSource("/events");
events.addEventListener("snapshot", (e) => {
  applySnapshot(model, JSON.parse(e.data));
  drawAll();
});
events.addEventListener("update", (e) => {
  const update = JSON.parse(e.data);
  for (const name of applyUpdate(model, update)) drawTile(name);
  drawHeader();
  ui.totals.replaceChildren(renderTotals(model));
  if (update.finished.length > 0) drawChart();
  if (update.failures.length > 0) ui.failures.replaceChildren(renderFailures(model));
  if (update.info) ui.details.replaceChildren(renderInfo(model.info));
});
events.addEventListener("error", () => {
  model.connected = false;
  drawHeader();
});

// Elapsed times move between events; the chart's time axis too, now and then.
setInterval(() => updateElapsed(ui.tiles, model), 500);
setInterval(() => model.connected && drawChart(), 10_000);
