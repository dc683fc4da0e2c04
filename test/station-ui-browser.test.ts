/**
 * The station's page in a real browser (headless Chromium) while the real
 * `provision station` provisions device twins against a local AWS IoT:
 * tiles go from waiting to done, a device asked for a key store it lacks
 * turns red with its code and hint, the totals are the station's own
 * `--json` lines, markup a device sent (in its board id, in its log) is
 * shown as characters and runs nothing, the Wi-Fi password is nowhere, and
 * the line view shows the station beside one it cannot reach.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { exitCodeFor } from "../src/cli/exit-codes.js";
import { startTwin, type Twin } from "../src/twin/index.js";
import { type Browser, openBrowser, type RunningCli, startCli } from "./browser.test-helper.js";
import { type HoldingRelay, startHoldingRelay } from "./holding-relay.test-helper.js";
import { type PtyProgram, startPtyProgram } from "./pty-program.test-helper.js";

const WIFI_PASSWORD = "hunter2-wifi-secret";
const UI_TOKEN = "0123456789abcdef-line3-token";
/** Markup in a board id (63 characters at most): shown as text, or it would set the flag. */
const HOSTILE_BOARD = "<img src=x onerror=window.__pwned=1>";
/** Markup in the device's log, what a device that never speaks the protocol prints. */
const HOSTILE_LOG = [
  "<script>window.__pwned=2</script>",
  '<img src="x" onerror="window.__pwned=3">',
  "<b>bold?</b> I (42) app: ready",
];

let dir: string;
let good: Twin[] = [];
let wrongStore: Twin;
let hostileBoard: Twin;
let chatter: PtyProgram;
let relay: HoldingRelay;
let station: RunningCli;
let stationUrl: string;
let browser: Browser;
let page: Page;

/** The `--json` lines the station printed so far. */
const jsonLines = () =>
  station
    .stdout()
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => JSON.parse(l) as { ok: boolean; slot: string; outcome: string });

const tile = (slot: string) => page.locator(`.tile[data-slot="${slot}"]`);
const phaseOf = (slot: string) => tile(slot).getAttribute("data-phase");

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "station-ui-"));
  const twin = (name: string, boardId?: string) =>
    startTwin({ stateDir: join(dir, "twins", name), ...(boardId ? { boardId } : {}) });
  good = await Promise.all(["a", "b", "c"].map((n) => twin(n)));
  // esp32-devkitc keeps keys in NVS by default; a twin has only its file store.
  wrongStore = await twin("wrong-store", "esp32-devkitc");
  hostileBoard = await twin("hostile", HOSTILE_BOARD);
  chatter = await startPtyProgram(
    [
      "import os, pty, time",
      "m, s = pty.openpty()",
      "print(os.ttyname(s), flush=True)",
      `lines = [${HOSTILE_LOG.map((l) => JSON.stringify(l)).join(", ")}]`,
      "i = 0",
      "while True:",
      "    os.write(m, lines[i % len(lines)].encode() + b'\\r\\n')",
      "    i += 1",
      "    time.sleep(0.05)",
    ].join("\n"),
  );
  // The first slot's device answers HELLO and STATUS, then its key's answer is held: the station waits there.
  relay = await startHoldingRelay((good[0] as Twin).port, { passFrames: 2 });
  await writeFile(join(dir, "wifi.txt"), `${WIFI_PASSWORD}\n`);
  await writeFile(join(dir, "ui-token"), `${UI_TOKEN}\n`);
  const ports = [relay.port, good[1], good[2], wrongStore, hostileBoard].map((p) =>
    typeof p === "string" ? p : (p as Twin).port,
  );
  station = startCli(
    [
      "station",
      ...ports,
      chatter.port,
      "--concurrency",
      "1",
      "--local",
      "--local-ports",
      "0,0,0",
      "--local-state-dir",
      join(dir, "iot"),
      "--ledger",
      "ledger.jsonl",
      "--manifest",
      "line3",
      "--wifi-ssid",
      "line3",
      "--wifi-password-file",
      "wifi.txt",
      // The held answer may wait for the browser to start on a loaded machine.
      "--device-timeout",
      "GENERATE_KEY=120000",
      "--ui",
      "127.0.0.1:0",
      "--ui-token-file",
      "ui-token",
      "--json",
    ],
    dir,
  );
  stationUrl = (await station.stderrMatch(/station view: (http:\/\/\S+)/))[1] as string;
  browser = await openBrowser();
  page = await browser.context.newPage();
}, 120_000);

afterAll(async () => {
  await browser?.close();
  station?.child.kill("SIGKILL");
  relay?.stop();
  chatter?.child.kill("SIGKILL");
  await Promise.all([...good, wrongStore, hostileBoard].filter(Boolean).map((t) => t.stop()));
  await rm(dir, { recursive: true, force: true });
});

describe("the station's page, live", () => {
  it("opens with its token; the held slot shows its step, the queued ones wait", async () => {
    expect(stationUrl).toContain(`?token=${UI_TOKEN}`);
    await relay.holding;
    await page.goto(stationUrl);
    // The token went into a cookie and out of the address bar.
    expect(page.url()).not.toContain("token");
    await page.locator(".tile").nth(5).waitFor();
    await page.locator(`.tile[data-slot="${relay.port}"][data-phase="key"]`).waitFor();
    expect(await tile(relay.port).locator(".step-current").textContent()).toBe("key");
    expect(await tile(relay.port).locator(".step-done").allTextContents()).toContain("hello");
    for (const t of [good[1], good[2], wrongStore, hostileBoard])
      expect(await phaseOf((t as Twin).port)).toBe("waiting");
    expect(await phaseOf(chatter.port)).toBe("waiting");
    expect(await page.locator("[data-total=in-flight]").textContent()).toBe("1");
  }, 60_000);

  it("released, the tiles go to done and the failing ones to red with code and hint; the totals are the --json lines", async () => {
    relay.release();
    await station.stderrMatch(/the station is through its ports/);
    await page.locator('#status[data-status="finished"]').waitFor({ timeout: 30_000 });
    for (const t of [relay.port, (good[1] as Twin).port, (good[2] as Twin).port]) {
      expect(await phaseOf(t)).toBe("done");
      expect(await tile(t).locator(".result").textContent()).toBe("DONE");
    }
    const red = tile(wrongStore.port);
    expect(await red.getAttribute("data-phase")).toBe("failed");
    expect(await red.locator(".result").textContent()).toBe("FAILED");
    expect(await red.locator(".error-code").textContent()).toBe("DEVICE_MISMATCH");
    expect(await red.locator(".hint").textContent()).toMatch(/^what to do: set keyStore to one of: file/);
    // Red as the operator sees it: the colour the browser computed for the tile's border.
    type InPage = { getComputedStyle(e: unknown): { borderTopColor: string } };
    const border = await red.evaluate(
      (e) => (globalThis as unknown as InPage).getComputedStyle(e).borderTopColor,
    );
    expect(border).toBe("rgb(255, 82, 71)");
    const lines = jsonLines();
    expect(lines).toHaveLength(6);
    const ok = lines.filter((l) => l.ok).length;
    expect(ok).toBe(3);
    expect(await page.locator("[data-total=done]").textContent()).toBe(String(ok));
    expect(await page.locator("[data-total=failed]").textContent()).toBe(String(lines.length - ok));
    expect(await page.locator("[data-total=in-flight]").textContent()).toBe("0");
    // The failures list names each failed device with its hint.
    expect(await page.locator(".failures .failure").count()).toBe(3);
    // The rate chart: the devices done and failed over time, under the quota-bound rate.
    expect(await page.locator("svg.chart polyline.chart-ok").count()).toBe(1);
    expect(await page.locator("svg.chart .chart-label").textContent()).toMatch(/^\d+\/min quota-bound$/);
  }, 120_000);

  it("markup a device sent is shown as its characters and runs nothing; the page refuses inline script", async () => {
    const hostile = tile(hostileBoard.port);
    expect(await hostile.getAttribute("data-phase")).toBe("failed");
    expect(await hostile.locator(".error-message").textContent()).toContain(
      `"${HOSTILE_BOARD}-${hostileBoard.deviceId}"`,
    );
    const chatty = tile(chatter.port);
    expect(await chatty.getAttribute("data-phase")).toBe("failed");
    const log = (await chatty.locator(".device-log").textContent()) ?? "";
    for (const line of HOSTILE_LOG) expect(log).toContain(line);
    // Nothing the device sent became an element, and no handler ran.
    expect(await page.evaluate("window.__pwned")).toBeUndefined();
    expect(await page.locator(".tile img, .tile script, .tile b, .failures img").count()).toBe(0);
    // The Content-Security-Policy refuses inline script even where the page's own code would add it.
    // (An inline script runs as it is inserted; a refused one raises the event instead.)
    const inline = (await page.evaluate(`new Promise((resolve) => {
      document.addEventListener("securitypolicyviolation", (e) => resolve({ refused: e.violatedDirective }), { once: true });
      const s = document.createElement("script");
      s.textContent = "window.__inline = 1";
      document.body.append(s);
      if (window.__inline) resolve({ ran: true });
    })`)) as { refused?: string; ran?: boolean };
    expect(inline).toEqual({ refused: expect.stringMatching(/^script-src/) });
  }, 60_000);

  it("no secret on the page or in its events: not the Wi-Fi password, not the token", async () => {
    const text = (await page.locator("body").textContent()) ?? "";
    expect(text).toContain("line3.manifest.csv");
    expect(text).not.toContain(WIFI_PASSWORD);
    expect(text).not.toContain(UI_TOKEN);
    const state = (await page.evaluate(`fetch("/state.json").then((r) => r.text())`)) as string;
    expect(state).toContain('"done":3');
    expect(state).not.toContain(WIFI_PASSWORD);
    expect(state).not.toContain(UI_TOKEN);
  });

  it("the line view shows the station beside one it cannot reach, through its own server", async () => {
    const line = startCli(["station-view", stationUrl, "http://127.0.0.1:9/", "--ui", "127.0.0.1:0"], dir);
    try {
      const url = (await line.stderrMatch(/line view of 2 station\(s\) .*: (http:\/\/\S+)/))[1] as string;
      const view = await browser.context.newPage();
      await view.goto(url);
      const first = view.locator('.station-column[data-station="0"]');
      await first.locator(".tile").nth(5).waitFor();
      expect(await first.locator("[data-total=done]").textContent()).toBe("3");
      expect(await first.locator(".tile.phase-failed").count()).toBe(3);
      const second = view.locator('.station-column[data-station="1"]');
      await second.locator(".status", { hasText: "cannot reach 127.0.0.1:9" }).waitFor();
      expect(await view.evaluate("window.__pwned")).toBeUndefined();
      await view.close();
    } finally {
      line.child.kill("SIGINT");
      expect(await line.exited).toBe(130);
    }
  }, 60_000);

  it("serves until stopped: Ctrl-C ends the station with its first failure's status", async () => {
    expect(station.child.exitCode).toBeNull();
    station.child.kill("SIGINT");
    expect(await station.exited).toBe(exitCodeFor("DEVICE_MISMATCH"));
    expect(station.stderr()).toMatch(/3 ok \(3 provisioned, 0 verified\), 3 failed/);
    expect(station.stderr()).not.toContain(WIFI_PASSWORD);
  }, 60_000);
});
