/**
 * `npm run bench -- --ui`: the station's page served by the station process
 * (src/station-ui, as `provision station --ui` serves it) with one headless
 * Chromium watching it. The browser, and playwright driving it, run in a
 * process of their own (browser-child.ts), as a browser on another screen
 * would: what the station pays is its own part, serving the page.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import type { DeviceRecord, SlotView, Station } from "../../src/station/index.js";
import { startStationUi, uiBind } from "../../src/station-ui/index.js";

const BROWSER_CHILD = fileURLToPath(new URL("./browser-child.ts", import.meta.url));

export interface UiPass {
  slotChanged(slot: SlotView): void;
  deviceFinished(record: DeviceRecord): void;
  /** Serves `station` and opens the page in the browser; resolves once the page shows it. */
  attach(station: Station): Promise<void>;
  readers(): number;
  close(): Promise<void>;
}

export async function startUiWithBrowser(): Promise<UiPass> {
  const ui = await startStationUi(
    uiBind("127.0.0.1:0", undefined),
    { stationId: "bench", target: "local AWS IoT" },
    [],
  );
  let browser: ChildProcess | undefined;
  return {
    slotChanged: (slot) => ui.slotChanged(slot),
    deviceFinished: (record) => ui.deviceFinished(record),
    readers: () => ui.readers(),
    async attach(station) {
      ui.attach(station);
      const child = spawn(process.execPath, [...process.execArgv, BROWSER_CHILD, ui.url], {
        stdio: ["pipe", "pipe", "inherit"],
      });
      browser = child;
      const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
      await new Promise<void>((resolve, reject) => {
        child.once("exit", (code) =>
          reject(new Error(`the browser exited (${code}) before the page was drawn`)),
        );
        lines.once("line", () => resolve());
      });
    },
    async close() {
      if (browser && browser.exitCode === null) {
        const exited = new Promise((r) => browser?.once("exit", r));
        browser.stdin?.end();
        await exited;
      }
      await ui.close();
    },
  };
}

export interface PassResult {
  devicesPerMin: number;
  quotaBoundPerMin: number;
  ok: number;
  failed: number;
  cpuMsPerDevice: { station: number; twins: number; service: number };
  machine: { loadavgBefore: number[]; loadavgAfter: number[] };
  ui: false | { pagesWatching: number | undefined };
}

/** The passes one by one, and the page's cost: the mean devices/min with it against without. */
export function printUiComparison(results: PassResult[], json: boolean): void {
  const mean = (withUi: boolean) => {
    const xs = results.filter((r) => (r.ui !== false) === withUi).map((r) => r.devicesPerMin);
    return xs.reduce((a, x) => a + x, 0) / xs.length;
  };
  const without = mean(false);
  const withUi = mean(true);
  const differencePercent = Math.round(((withUi - without) / without) * 1000) / 10;
  if (json) {
    process.stdout.write(`${JSON.stringify({ passes: results, without, withUi, differencePercent })}\n`);
    return;
  }
  for (const [i, r] of results.entries())
    process.stdout.write(
      `pass ${i + 1} ${r.ui === false ? "without --ui" : `with --ui, ${r.ui.pagesWatching} page watching`}: ${r.devicesPerMin} devices/min of ${r.quotaBoundPerMin}, ${r.ok} ok ${r.failed} failed, station CPU ${r.cpuMsPerDevice.station} ms/device, load ${r.machine.loadavgBefore[0]} -> ${r.machine.loadavgAfter[0]}\n`,
    );
  process.stdout.write(
    `mean devices/min: ${without.toFixed(1)} without the page, ${withUi.toFixed(1)} with it: ${differencePercent > 0 ? "+" : ""}${differencePercent} %\n`,
  );
}
