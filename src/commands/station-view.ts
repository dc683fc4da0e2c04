/**
 * `provision station-view URL...`: the line view, several stations side by
 * side in one page, each read from its `--ui` endpoint. It runs until
 * stopped (Ctrl-C, SIGTERM) and changes nothing anywhere.
 */
import { ProvisionError } from "../errors.js";
import { whenInterrupted } from "../provision/interruption.js";
import { interrupt } from "./interrupt.js";

export interface StationViewOptions {
  urls: string[];
  /** `[HOST:]PORT` to serve the line view on. */
  ui: string;
  uiTokenFile?: string;
  /** Test seam: stop on this signal instead of the process's. */
  signal?: AbortSignal;
  /** Test seam: told the URL once it serves. */
  onListening?: (url: string) => void;
}

export async function stationViewCommand(opts: StationViewOptions): Promise<void> {
  const { parseStationUrl, startLineView, uiBind } = await import("../station-ui/index.js");
  if (opts.urls.length === 0)
    throw new ProvisionError("USAGE", "station-view needs the URL of at least one station", {
      hint: "give the URL each station printed for --ui, e.g. provision station-view http://station-a:8080/?token=...",
    });
  const stations = opts.urls.map(parseStationUrl);
  const bind = uiBind(opts.ui, opts.uiTokenFile);
  const view = await startLineView(bind, stations);
  try {
    process.stderr.write(
      `line view of ${stations.length} station(s) (${stations.map((s) => s.label).join(", ")}): ${view.url}\n`,
    );
    opts.onListening?.(view.url);
    await whenInterrupted(opts.signal ?? interrupt.signal);
  } finally {
    await view.close();
  }
}
