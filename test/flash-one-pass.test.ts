/**
 * Blank boards to provisioned devices in one pass, on emulated ESP32-C3
 * boards with the auto-reset circuit: `provision --port P --flash DIR`
 * flashes, boots, meets the firmware and provisions (`--until committed`:
 * the emulated chip has no network); a second run finds the build running
 * (HELLO reports it) and does not flash, --reflash does; `provision station --flash DIR` does the same for
 * two boards at once, each slot flashing in parallel, and reports the flash
 * per device. A bad image stops the station before any port is opened.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { EmulatedChip } from "../src/emulator/emulated-chip.js";
import type { ChipImage } from "../src/firmware/chip-image.js";
import { DEVICE_STATE } from "../src/protocol/index.js";
import { localArgs, runCli } from "./cli.test-helper.js";
import { CHIP_IMAGE_BUILD_TIMEOUT_MS, EMULATED_BOARD } from "./device-kinds.test-helper.js";
import { blankBoard, helloOn } from "./emulated-board.test-helper.js";
import { expectDocumented } from "./json-schema.test-helper.js";

const dir = mkdtempSync(join(tmpdir(), "flash-one-pass-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const cli = (args: string[]) => runCli(args, { cwd: dir, inheritEnv: true, timeoutMs: 600_000 });
const ONE_PASS_MS = 600_000;

let image: ChipImage;
const boards: EmulatedChip[] = [];
beforeAll(async () => {
  const { ensureChipImageBuilt } = await import("../src/firmware/chip-image.js");
  image = await ensureChipImageBuilt({ board: EMULATED_BOARD, keyStore: "nvs", kitVersion: "5.5.5" });
}, CHIP_IMAGE_BUILD_TIMEOUT_MS);
afterAll(async () => {
  for (const b of boards) await b.stop();
});

const onePass = (port: string, name: string) => [
  "--port",
  port,
  "--flash",
  image.buildDir,
  "--no-stub",
  "--key-store",
  "nvs",
  ...localArgs(join(dir, `${name}-iot`)),
  "--ledger",
  join(dir, `${name}.jsonl`),
  "--until",
  "committed",
  "--json",
];

describe("provision --port P --flash DIR", () => {
  it(
    "takes a blank board (provision sim --emulate --blank, as the README shows) to a committed device; a second run meets the build running and does not flash; --reflash does, keeping the key",
    async () => {
      const sim = await runCli(
        ["sim", "--board", EMULATED_BOARD, "--emulate", "--blank", "--state-dir", join(dir, "one"), "--json"],
        { cwd: dir, inheritEnv: true, untilLine: true },
      );
      const [chip] = JSON.parse(sim.stdout.split("\n")[0] ?? "[]") as { port: string; deviceId: string }[];
      if (!chip) throw new Error(`sim printed no board: ${sim.stderr}`);
      expect(chip.port).toMatch(/^rfc2217:\/\/127\.0\.0\.1:\d+$/);
      try {
        await onePassTwice(chip);
      } finally {
        sim.interrupt();
        expect(await sim.exited).toBe(130);
      }
    },
    ONE_PASS_MS,
  );
});

async function onePassTwice(chip: { port: string; deviceId: string }) {
  const first = await cli(onePass(chip.port, "one"));
  expect(first.status, first.stderr).toBe(0);
  const r = JSON.parse(first.stdout);
  expectDocumented(r);
  expect(r).toMatchObject({
    ok: true,
    mode: "provisioned",
    deviceId: chip.deviceId,
    committed: { generation: 1 },
  });
  expect(r.flash.regions.filter((x: { written: boolean }) => x.written)).toHaveLength(3);
  expect(r.flash.chip.mac.replaceAll(":", "")).toBe(chip.deviceId);
  // the steps in order: flash, meet the new firmware, then provision
  const steps = Object.keys(r.timingsMs);
  expect(steps.indexOf("flash:app")).toBeLessThan(steps.indexOf("boot"));
  expect(steps.indexOf("boot")).toBeLessThan(steps.indexOf("key"));

  const second = await cli(onePass(chip.port, "one"));
  expect(second.status, second.stderr).toBe(0);
  const again = JSON.parse(second.stdout);
  expectDocumented(again);
  expect(again.mode).toBe("verified");
  // its HELLO reports the build (the ELF's SHA-256): the board is not flashed, not even put in its loader
  expect(again.flash).toBeUndefined();
  expect(again.flashSkipped).toEqual({ version: r.flash.app.version, elfSha256: r.flash.app.elfSha256 });
  expect(again.timingsMs.loader).toBeUndefined();
  expect(second.stderr).toMatch(/ask the board on .* which build it runs: .*not flashed/);

  const forced = await cli([...onePass(chip.port, "one"), "--reflash"]);
  expect(forced.status, forced.stderr).toBe(0);
  const reflashed = JSON.parse(forced.stdout);
  expect(reflashed.flash.regions.every((x: { written: boolean }) => x.written)).toBe(true);
  expect(reflashed.flash.nvs).toMatchObject({ blank: false, kept: true });
  expect((await helloOn(chip.port)).status.state).toBe(DEVICE_STATE.PROVISIONED);
}

describe("provision station --flash DIR", () => {
  it("refuses a bad image before opening any port", async () => {
    const r = await cli([
      "station",
      "rfc2217://127.0.0.1:9",
      "--flash",
      join(dir, "nothing-here"),
      "--local",
      "--json",
    ]);
    expect(r.status, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/is not an ESP-IDF build folder/);
  });

  it(
    "flashes two blank boards in parallel, then provisions each, and reports the flash per device",
    async () => {
      const chips = await Promise.all([blankBoard(join(dir, "s0")), blankBoard(join(dir, "s1"))]);
      boards.push(...chips);
      const run = await cli([
        "station",
        ...chips.map((c) => c.port),
        "--flash",
        image.buildDir,
        "--no-stub",
        "--key-store",
        "nvs",
        ...localArgs(join(dir, "station-iot")),
        "--ledger",
        join(dir, "station.jsonl"),
        "--manifest",
        join(dir, "station-manifest"),
        "--until",
        "committed",
        "--json",
      ]);
      expect(run.status, run.stderr).toBe(0);
      const lines = run.stdout
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l));
      expect(lines.map((l) => l.deviceId).sort()).toEqual(chips.map((c) => c.deviceId).sort());
      for (const l of lines) {
        expectDocumented(l);
        expect(l).toMatchObject({ ok: true, outcome: "provisioned", committedGeneration: 1 });
        expect(l.flash).toMatchObject({ chip: "ESP32-C3", outcome: "flashed" });
        expect(l.flash.mac.replaceAll(":", "")).toBe(l.deviceId);
        expect(l.flash.regions).toHaveLength(3);
        expect(l.timingsMs["flash:app"]).toBeGreaterThan(0);
      }
      // the audit trail: a "flashed" record per device in the ledger, the chip and build in the manifest
      const ledger = readFileSync(join(dir, "station.jsonl"), "utf8")
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l));
      for (const c of chips) {
        const flashed = ledger.find((r) => r.event === "flashed" && r.device === c.deviceId);
        expect(flashed?.data).toMatchObject({ chip: "ESP32-C3", outcome: "flashed" });
      }
      const csv = readFileSync(join(dir, "station-manifest.csv"), "utf8").trim().split("\r\n");
      expect(csv[0]).toBe(
        "deviceId,thingName,certificateId,board,firmware,stationId,time,result,port,slot,chip,chipRevision,mac,flashId,appElfSha256,flash",
      );
      expect(
        csv.slice(1).map((row) => row.split(",").slice(10, 12).concat(row.split(",").slice(15))),
      ).toEqual([
        ["ESP32-C3", "v0.3", "flashed"],
        ["ESP32-C3", "v0.3", "flashed"],
      ]);
      // in parallel: the two app writes overlapped in time
      const [a, b] = lines.map((l) => ({
        start: Date.parse(l.startedAt),
        end: Date.parse(l.startedAt) + l.totalMs,
      }));
      expect(a && b && a.start < b.end && b.start < a.end).toBe(true);
    },
    ONE_PASS_MS,
  );
});
