// The station's page: one EventSource on the station's /events, a model
// kept from it (model.js), the DOM drawn from the model (render.js).
import { applySnapshot, applyUpdate, createModel } from "./model.js";
import {
  renderChart,
  renderFailures,
  renderInfo,
  renderTile,
  renderTotals,
  statusText,
  updateElapsed,
} from "./render.js";

const model = createModel();
const $ = (id) => document.getElementById(id);
const tiles = new Map();

function drawHeader() {
  $("station-id").textContent = model.info.stationId ?? "";
  document.title = `${model.info.stationId ?? "station"}: ${model.totals.done} done, ${model.totals.failed} failed`;
  const status = $("status");
  status.textContent = statusText(model);
  status.dataset.status = model.connected ? model.status : "disconnected";
  const where = [model.info.target, model.info.account && `account ${model.info.account}`, model.info.region]
    .filter(Boolean)
    .join(" · ");
  $("target").textContent = where;
}

function drawShift() {
  $("totals").replaceChildren(renderTotals(model));
  $("chart").replaceChildren(renderChart(model, { width: 900, height: 140 }));
  $("failures").replaceChildren(renderFailures(model));
}

function drawTile(name) {
  const slot = model.slots.get(name);
  if (!slot) return;
  const tile = renderTile(slot, model);
  const old = tiles.get(name);
  if (old) old.replaceWith(tile);
  else $("tiles").append(tile);
  tiles.set(name, tile);
}

function drawAll() {
  drawHeader();
  drawShift();
  $("details").replaceChildren(renderInfo(model.info));
  $("tiles").replaceChildren();
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
  const changed = applyUpdate(model, update);
  for (const name of changed) drawTile(name);
  drawHeader();
  drawShift();
  if (update.info) $("details").replaceChildren(renderInfo(model.info));
});
events.addEventListener("error", () => {
  model.connected = false;
  drawHeader();
});

// Elapsed times move between events; the chart's time axis too, now and then.
setInterval(() => updateElapsed(document.body, model), 500);
setInterval(() => model.connected && $("chart").replaceChildren(renderChart(model, { width: 900, height: 140 })), 5000);
