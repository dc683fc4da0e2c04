/**
 * `provision station --ui [HOST:]PORT`: the station's page, served by the
 * station process itself. A page gets a snapshot when it connects, then
 * what changed, at most every UPDATE_INTERVAL_MS (as often as the terminal
 * view redraws), whatever the number of slots and steps: the station's cost
 * is bounded by the clock, not by its rate. With no page connected nothing
 * is serialised at all.
 */
import { hostname } from "node:os";
import type { DeviceRecord, SlotView } from "../station/index.js";
import type { UiBind } from "./bind.js";
import { EventStreams, sseFrame } from "./events.js";
import { loadAssets, send, startViewServer } from "./http.js";
import { StationUiState, type UiInfo, type UiSource, type UiStatus } from "./state.js";

export const UPDATE_INTERVAL_MS = 250;

export interface StationUi {
  /** The address to open (with the token, when there is one). */
  url: string;
  port: number;
  attach(source: UiSource): void;
  setInfo(more: Partial<UiInfo>): void;
  /** Values no page may show (the Wi-Fi password, keys), set before the station attaches. */
  addSecrets(secrets: readonly (string | undefined)[]): void;
  setStatus(status: UiStatus): void;
  /** Station.onSlotChange. */
  slotChanged(slot: SlotView): void;
  /** Station.onDevice. */
  deviceFinished(record: DeviceRecord): void;
  /** Pages watching now. */
  readers(): number;
  close(): Promise<void>;
}

/** The host a browser elsewhere reaches a wildcard bind by. */
export function publicHostOf(host: string): string {
  return host === "0.0.0.0" || host === "::" ? hostname() : host;
}

export async function startStationUi(
  bind: UiBind,
  info: UiInfo,
  secrets: readonly (string | undefined)[],
): Promise<StationUi> {
  const state = new StationUiState(info, secrets);
  const streams = new EventStreams();
  const flush = () => {
    const update = state.takeUpdate();
    if (update) streams.write(sseFrame("update", update));
  };
  const view = await startViewServer(
    bind,
    loadAssets("station"),
    (path, req, res) => {
      if (path === "/events") {
        // What is pending goes to the pages already watching; the new one starts from the snapshot.
        flush();
        streams.open(req, res, sseFrame("snapshot", state.snapshot()));
        return true;
      }
      if (path === "/state.json") {
        send(res, 200, "application/json; charset=utf-8", JSON.stringify(state.snapshot()));
        return true;
      }
      return false;
    },
    publicHostOf(bind.host),
  );
  const timer = setInterval(() => {
    if (streams.size > 0) flush();
    else state.discardPending();
  }, UPDATE_INTERVAL_MS);
  timer.unref();
  return {
    url: view.url,
    port: view.port,
    attach: (source) => state.attach(source),
    setInfo: (more) => state.setInfo(more),
    addSecrets: (secrets) => state.addSecrets(secrets),
    setStatus: (status) => {
      state.setStatus(status);
      flush();
    },
    slotChanged: (slot) => {
      if (streams.size > 0) state.slotChanged(slot);
    },
    deviceFinished: (record) => state.deviceFinished(record),
    readers: () => streams.size,
    async close() {
      clearInterval(timer);
      flush();
      streams.close();
      await view.close();
    },
  };
}
