/**
 * `provision station-view URL...`: a line's stations side by side. The page
 * reads each station through this server (`/station/N/events` relays the
 * station's own event stream, byte for byte), so the browser talks to one
 * origin, its Content-Security-Policy stays `connect-src 'self'`, and the
 * stations' tokens stay here, sent upstream as a bearer header.
 */
import { request } from "node:http";
import { ProvisionError } from "../errors.js";
import type { UiBind } from "./bind.js";
import { sseFrame } from "./events.js";
import { CONTENT_SECURITY_POLICY, loadAssets, send, startViewServer } from "./http.js";
import { publicHostOf } from "./station-server.js";

/** How long the relay waits for a station to answer before telling the page it is unreachable. */
const UPSTREAM_TIMEOUT_MS = 5_000;

export interface StationSource {
  /** host:port, shown on the page (never the token). */
  label: string;
  eventsUrl: string;
  token?: string;
}

/** A URL the station printed (`http://host:port/?token=...`). */
export function parseStationUrl(text: string): StationSource {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new ProvisionError("USAGE", `${text}: not a URL`, {
      hint: "give the URL each station printed for --ui, e.g. http://station-a:8080/?token=...",
    });
  }
  if (url.protocol !== "http:")
    throw new ProvisionError(
      "USAGE",
      `${url.protocol}//${url.host}: a station serves its view over http://`,
      {
        hint: "give the URL each station printed for --ui",
      },
    );
  const token = url.searchParams.get("token") ?? undefined;
  return {
    label: url.host,
    eventsUrl: `${url.origin}/events`,
    ...(token ? { token } : {}),
  };
}

export interface LineView {
  url: string;
  port: number;
  close(): Promise<void>;
}

export async function startLineView(bind: UiBind, stations: readonly StationSource[]): Promise<LineView> {
  const open = new Set<() => void>();
  const view = await startViewServer(
    bind,
    loadAssets("line"),
    (path, req, res) => {
      if (path === "/stations.json") {
        send(res, 200, "application/json; charset=utf-8", JSON.stringify(stations.map((s) => s.label)));
        return true;
      }
      const n = /^\/station\/(\d+)\/events$/.exec(path)?.[1];
      const station = n === undefined ? undefined : stations[Number(n)];
      if (!station) return false;
      // Always an event stream: on anything else a browser's EventSource gives up instead of retrying.
      res.writeHead(200, {
        "Content-Type": "text/event-stream; charset=utf-8",
        "Cache-Control": "no-store",
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": CONTENT_SECURITY_POLICY,
      });
      const unreachable = (message: string) => {
        if (res.writableEnded) return;
        res.end(`retry: 3000\n\n${sseFrame("unreachable", { message })}`);
      };
      const upstream = request(station.eventsUrl, {
        headers: {
          Accept: "text/event-stream",
          ...(station.token ? { Authorization: `Bearer ${station.token}` } : {}),
        },
        timeout: UPSTREAM_TIMEOUT_MS,
      });
      upstream.on("response", (answer) => {
        upstream.setTimeout(0);
        if (answer.statusCode !== 200) {
          answer.resume();
          unreachable(
            answer.statusCode === 401
              ? "the station refused the token: give the URL it printed, with its ?token="
              : `the station answered ${answer.statusCode}`,
          );
          return;
        }
        answer.pipe(res);
      });
      upstream.on("timeout", () =>
        upstream.destroy(new Error(`no answer within ${UPSTREAM_TIMEOUT_MS / 1000} s`)),
      );
      upstream.on("error", (e: NodeJS.ErrnoException) =>
        unreachable(`cannot reach ${station.label}: ${e.code ?? e.message}`),
      );
      const stop = () => upstream.destroy();
      open.add(stop);
      req.once("close", () => {
        open.delete(stop);
        stop();
      });
      upstream.end();
      return true;
    },
    publicHostOf(bind.host),
  );
  return {
    url: view.url,
    port: view.port,
    async close() {
      for (const stop of open) stop();
      await view.close();
    },
  };
}
