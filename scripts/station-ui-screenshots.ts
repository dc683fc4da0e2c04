/**
 * The screenshots of docs/station.md: a station of 12 fixture slots
 * provisioning device twins against a local AWS IoT limited to a few
 * requests per second (so a shift's rate builds up over two minutes), some
 * devices slow to make their key, and one in twenty asking for a key store
 * it lacks; a board stays in its slot a few seconds once done, a failed one
 * longer, as an operator reads the tile before swapping it. Taken from Debian's Chromium at 1280x800 and
 * 1920x1080 while the station runs.
 *
 *   npx tsx scripts/station-ui-screenshots.ts [--out docs/img] [--seconds 150]
 */
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { chromium } from "playwright-core";
import { Ledger } from "../src/ledger/index.js";
import { startLocalIot } from "../src/local-iot/service.js";
import {
  POLICY_NAME_DEFAULT,
  type ProvisionPlan,
  THING_NAME_TEMPLATE_DEFAULT,
} from "../src/provision/pipeline.js";
import { targetForLocalIot } from "../src/provision/target.js";
import { OperationRateLimiter, TOPIC_DEFAULT } from "../src/registry/index.js";
import { Manifest, type PortEvent, type PortSource, Station } from "../src/station/index.js";
import { planRates } from "../src/station/rate-plan.js";
import { openStationUi } from "../src/station-ui/index.js";
import { startTwin, type Twin } from "../src/twin/index.js";
import { CHROMIUM, CHROMIUM_ARGS } from "../test/browser.test-helper.js";

const SLOTS = ["A1", "A2", "A3", "A4", "A5", "A6", "B1", "B2", "B3", "B4", "B5", "B6"];
/** How long a board stays in its slot once through (the operator sees the tile, then swaps it). */
const DONE_STAYS_MS = 1_500;
const FAILED_STAYS_MS = 15_000;

const { values } = parseArgs({
  options: {
    out: { type: "string", default: "docs/img" },
    seconds: { type: "string", default: "150" },
    quota: { type: "string", default: "3" },
  },
});
const runMs = Number(values.seconds) * 1000;
const out = resolve(values.out);
const dir = await mkdtemp(join(tmpdir(), "station-ui-shots-"));
// The page names the ledger and manifest as the operator gave them: relative to the station's folder.
process.chdir(dir);
const iot = await startLocalIot({
  stateDir: join(dir, "iot"),
  faults: { default: { maxRps: Number(values.quota) } },
});
const limiter = new OperationRateLimiter();
const target = await targetForLocalIot(iot, { rateLimit: limiter });
const rates = planRates(await target.readQuotas());
limiter.configure(rates.rates, target.region);
const observer = await target.openObserver();
const ledger = await Ledger.open("line3-ledger.jsonl");
const manifest = await Manifest.open("line3");
const twins: Twin[] = [];
let made = 0;
/** The next board: most fine, some slow to make their key, every ninth one of another board. */
async function nextTwin(): Promise<Twin> {
  made++;
  const twin = await startTwin({
    stateDir: join(dir, "twins", String(made)),
    keygenDelayMs: 300 + ((made * 7919) % 2500),
    ...(made % 20 === 7 ? { boardId: "esp32-devkitc" } : {}),
  });
  twins.push(twin);
  return twin;
}

// Fixture slots fed like an operator does: a done board swapped at once, a failed one after a while.
const events: PortEvent[] = [];
let wake: (() => void) | undefined;
const plug = async (slot: string, previous?: string) => {
  if (previous) events.push({ kind: "depart", slot, port: previous });
  events.push({ kind: "arrive", slot, port: (await nextTwin()).port });
  wake?.();
};
const source: PortSource = async function* (signal) {
  while (!signal.aborted) {
    const e = events.shift();
    if (e) yield e;
    else await new Promise<void>((r) => (wake = r));
  }
};
const stop = new AbortController();
const plan: ProvisionPlan = {
  thingNameTemplate: THING_NAME_TEMPLATE_DEFAULT,
  topic: TOPIC_DEFAULT,
  policyName: POLICY_NAME_DEFAULT,
  intervalMs: 5000,
  subject: { O: "line 3" },
  force: false,
  lock: false,
  firstPublishTimeoutMs: 60_000,
};
const info = (text: string) => process.stderr.write(`${text}\n`);
const ui = await openStationUi({ ui: "127.0.0.1:0" }, "line3-station-a", info);
const station = new Station({
  target,
  observer,
  ledger,
  manifest,
  concurrency: SLOTS.length,
  stationId: "line3-station-a",
  signal: stop.signal,
  plan,
  onSlotChange: (slot) => ui.slotChanged(slot),
  onDevice: (record) => {
    ui.deviceFinished(record);
    if (stop.signal.aborted) return;
    setTimeout(() => void plug(record.slot, record.port), record.ok ? DONE_STAYS_MS : FAILED_STAYS_MS);
  },
});
ui.describe({
  target,
  rates,
  ledgerFile: ledger.file,
  manifest,
  concurrency: SLOTS.length,
  plan,
  flash: false,
  ports: "--fixture line3-fixture.json",
});
ui.attach(station);
for (const slot of SLOTS) await plug(slot);
const running = station.run(source);
const profile = await mkdtemp(join(tmpdir(), "station-ui-shots-chromium-"));
const browser = await chromium.launchPersistentContext(profile, {
  executablePath: CHROMIUM,
  headless: true,
  args: CHROMIUM_ARGS,
});
try {
  const page = await browser.newPage();
  await page.goto(ui.url);
  await new Promise((r) => setTimeout(r, runMs));
  await mkdir(out, { recursive: true });
  for (const [width, height] of [
    [1920, 1080],
    [1280, 800],
  ] as const) {
    await page.setViewportSize({ width, height });
    await page.waitForTimeout(600);
    const file = join(out, `station-ui-${width}x${height}.png`);
    await page.screenshot({ path: file });
    info(`wrote ${file}`);
  }
} finally {
  stop.abort();
  wake?.();
  await running.catch(() => undefined);
  await browser.close();
  await ui.close();
  await Promise.all(twins.map((t) => t.stop()));
  await observer.close();
  await manifest.close();
  await ledger.close();
  await target.close();
  await limiter.stop();
  await iot.stop();
  await rm(profile, { recursive: true, force: true });
  await rm(dir, { recursive: true, force: true });
}
