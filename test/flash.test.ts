/**
 * `provision flash` against the emulated ESP32-C3's real ROM loader, on a
 * board with the auto-reset circuit (rfc2217://): a blank board flashed,
 * checked with the kit's Python esptool (verify_flash over the port, and the
 * flash file byte for byte against esptool merge_bin of the same images),
 * booted and provisioned; a second flash of the same build writes nothing
 * and keeps the NVS with the key; --erase-credentials erases it; an
 * interrupted flash (a kill, a power cut) is finished by the next run; and
 * every refusal comes before a byte is written. The ROM loader only
 * (--no-stub): esptool's flasher stub does not run in this emulator.
 */
import { createHash } from "node:crypto";
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { EmulatedChip } from "../src/emulator/emulated-chip.js";
import type { ChipImage } from "../src/firmware/chip-image.js";
import { appDescription } from "../src/flash/image.js";
import { DEVICE_STATE } from "../src/protocol/index.js";
import { localArgs, runCli } from "./cli.test-helper.js";
import { CHIP_IMAGE_BUILD_TIMEOUT_MS, EMULATED_BOARD } from "./device-kinds.test-helper.js";
import { blankBoard, esptool, helloOn, restartBoard } from "./emulated-board.test-helper.js";
import { expectDocumented } from "./json-schema.test-helper.js";

const dir = mkdtempSync(join(tmpdir(), "flash-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const cli = (args: string[], extra: Partial<Parameters<typeof runCli>[1]> = {}) =>
  runCli(args, { cwd: dir, inheritEnv: true, timeoutMs: 600_000, ...extra });
/** Nothing listens here: a command that fails with exit 2 on it never tried the port. */
const NOWHERE = "rfc2217://127.0.0.1:9";
const FLASH_TEST_MS = 600_000;

let image: ChipImage;
let files: { bootloader: string; table: string; app: string };
const boards: EmulatedChip[] = [];
beforeAll(async () => {
  const { ensureChipImageBuilt } = await import("../src/firmware/chip-image.js");
  image = await ensureChipImageBuilt({ board: EMULATED_BOARD, keyStore: "nvs", kitVersion: "5.5.5" });
  const of = (role: string) => image.images.find((i) => i.role === role)?.file ?? "";
  files = { bootloader: of("bootloader"), table: of("partition-table"), app: of("app") };
}, CHIP_IMAGE_BUILD_TIMEOUT_MS);
afterAll(async () => {
  for (const b of boards) await b.stop();
});

async function board(name: string, blank = true): Promise<EmulatedChip> {
  const b = blank ? await blankBoard(join(dir, name)) : await restartBoard(join(dir, name));
  boards.push(b);
  return b;
}

const flashArgs = (port: string, ...more: string[]) => [
  "flash",
  "--port",
  port,
  "--image",
  image.buildDir,
  "--no-stub",
  "--json",
  ...more,
];
const sha = (file: string) => createHash("sha256").update(readFileSync(file)).digest("hex");

describe("a blank board", () => {
  const name = "blank";
  let chip: EmulatedChip;

  it(
    "is flashed through the ROM loader; esptool verifies the whole flash, the flash file equals merge_bin; it boots and is provisioned",
    async () => {
      chip = await board(name);
      const r = await cli(flashArgs(chip.port));
      expect(r.status, r.stderr).toBe(0);
      const out = JSON.parse(r.stdout);
      expectDocumented(out);
      expect(out).toMatchObject({ command: "flash", ok: true, outcome: "flashed", unchanged: false });
      expect(out.chip).toMatchObject({ type: "ESP32-C3", revision: "v0.3", stub: false });
      expect(out.chip.mac.replaceAll(":", "")).toBe(chip.deviceId);
      expect(out.chip.flashSizeBytes).toBe(4 * 1024 * 1024);
      expect(out.regions.map((x: { offset: string; written: boolean }) => [x.offset, x.written])).toEqual([
        ["0x0", true],
        ["0x8000", true],
        ["0x10000", true],
      ]);
      for (const reg of out.regions) expect(reg.bytesPerSecond).toBeGreaterThan(0);
      expect(out.nvs).toEqual({ offset: "0x9000", size: 0x6000, blank: true, kept: true });
      expect(out.app.elfSha256).toBe(appDescription(readFileSync(files.app))?.elfSha256);
      expect(r.stderr).toMatch(/write app at 0x10000: .* KiB\/s, MD5 verified/);

      // Tools we did not write: the kit's esptool makes the expected flash, and checks the chip holds it.
      const expected = join(dir, "expected-flash.bin");
      const merge = await esptool([
        "--chip",
        "esp32c3",
        "merge_bin",
        "-o",
        expected,
        "--flash_mode",
        "dio",
        "--flash_freq",
        "80m",
        "--flash_size",
        "4MB",
        "--fill-flash-size",
        "4MB",
        "0x0",
        files.bootloader,
        "0x8000",
        files.table,
        "0x10000",
        files.app,
      ]);
      expect(merge.status, merge.output).toBe(0);
      const verify = await esptool([
        "--chip",
        "esp32c3",
        "--port",
        chip.port,
        "--before",
        "default_reset",
        "--after",
        "hard_reset",
        "--no-stub",
        "verify_flash",
        "0x0",
        expected,
      ]);
      expect(verify.status, verify.output).toBe(0);
      expect(verify.output).toMatch(/verify OK \(digest matched\)/);

      // esptool's hard reset (RTS through RFC 2217) boots the app
      const { hello } = await helloOn(chip.port);
      expect(hello.deviceId).toBe(chip.deviceId);
      await chip.stop();
      expect(readFileSync(chip.flashFile).equals(readFileSync(expected))).toBe(true);

      chip = await board(name, false);
      const p = await cli([
        "--port",
        chip.port,
        "--key-store",
        "nvs",
        ...localArgs(join(dir, "iot")),
        "--ledger",
        join(dir, "blank.jsonl"),
        "--until",
        "committed",
        "--json",
      ]);
      expect(p.status, p.stderr).toBe(0);
      expect(JSON.parse(p.stdout)).toMatchObject({
        ok: true,
        mode: "provisioned",
        committed: { generation: 1 },
      });
    },
    FLASH_TEST_MS,
  );

  it(
    "a second flash of the same build writes nothing and keeps the key; --erase-credentials erases it",
    async () => {
      const again = await cli(flashArgs(chip.port));
      expect(again.status, again.stderr).toBe(0);
      const out = JSON.parse(again.stdout);
      expect(out.outcome).toBe("unchanged");
      expect(out.regions.every((x: { written: boolean }) => !x.written)).toBe(true);
      expect(out.nvs).toMatchObject({ blank: false, kept: true });
      expect((await helloOn(chip.port)).status.state).toBe(DEVICE_STATE.PROVISIONED);

      const refused = await cli(flashArgs(NOWHERE, "--erase-all"));
      expect(refused.status, refused.stderr).toBe(2);
      expect(JSON.parse(refused.stdout).error.hint).toMatch(/--yes/);

      const erase = await cli(flashArgs(chip.port, "--erase-credentials"));
      expect(erase.status, erase.stderr).toBe(0);
      const erased = JSON.parse(erase.stdout);
      expectDocumented(erased);
      expect(erased.nvs).toMatchObject({ blank: false, kept: false });
      expect(erased.regions).toContainEqual(
        expect.objectContaining({ offset: "0x9000", role: "erase", written: true }),
      );
      expect((await helloOn(chip.port)).status.state).toBe(DEVICE_STATE.EMPTY);
    },
    FLASH_TEST_MS,
  );
});

describe("refusals come before a byte is written", () => {
  /** A copy of the build folder to break. */
  function buildCopy(name: string): string {
    const copy = join(dir, name);
    cpSync(image.buildDir, copy, {
      recursive: true,
      filter: (src) => !/\/(esp-idf|CMakeFiles|bootloader\/esp-idf|\.ninja)/.test(src),
    });
    return copy;
  }
  const flasherArgs = (build: string) => JSON.parse(readFileSync(join(build, "flasher_args.json"), "utf8"));

  it("a missing file, overlapping regions, an app larger than its partition: exit 2 without opening the port", async () => {
    const missing = buildCopy("missing");
    rmSync(join(missing, "provision-esp32-c3-devkitm-1.bin"));
    const a = await cli(["flash", "--port", NOWHERE, "--image", missing, "--json"]);
    expect(a.status, a.stderr).toBe(2);
    expect(JSON.parse(a.stdout).error.message).toMatch(
      /the app image .*provision-esp32-c3-devkitm-1\.bin does not exist/,
    );

    const overlap = buildCopy("overlap");
    const args = flasherArgs(overlap);
    args.flash_files = {
      "0x0": "bootloader/bootloader.bin",
      "0x4000": "partition_table/partition-table.bin",
    };
    writeFileSync(join(overlap, "flasher_args.json"), JSON.stringify(args));
    const b = await cli(["flash", "--port", NOWHERE, "--image", overlap, "--json"]);
    expect(b.status, b.stderr).toBe(2);
    expect(JSON.parse(b.stdout).error.message).toMatch(
      /bootloader image \(0x0-0x[0-9a-f]+\) overlaps the data image at 0x4000/,
    );

    const big = buildCopy("big");
    const app = join(big, "provision-esp32-c3-devkitm-1.bin");
    writeFileSync(app, Buffer.concat([readFileSync(app), Buffer.alloc(0x200000, 0xff)]));
    const c = await cli(["flash", "--port", NOWHERE, "--image", big, "--json"]);
    expect(c.status, c.stderr).toBe(2);
    expect(JSON.parse(c.stdout).error.message).toMatch(
      /app \(\d+ bytes\) is larger than its partition "factory" \(2097152 bytes\)/,
    );
  });

  it(
    "an image for another chip, and one past the chip's flash: exit 2 after the chip is read, its flash untouched",
    async () => {
      const chip = await board("refusals");
      const before = sha(chip.flashFile);
      const s3 = buildCopy("s3");
      for (const f of ["bootloader/bootloader.bin", "provision-esp32-c3-devkitm-1.bin"]) {
        const bytes = readFileSync(join(s3, f));
        bytes.writeUInt16LE(9, 12); // the image header's chip id: ESP32-S3
        writeFileSync(join(s3, f), bytes);
      }
      const wrong = await cli(["flash", "--port", chip.port, "--image", s3, "--no-stub", "--json"]);
      expect(wrong.status, wrong.stderr).toBe(2);
      expect(JSON.parse(wrong.stdout).error.message).toMatch(
        /built for ESP32-S3, but the chip on .* is an ESP32-C3/,
      );

      const tail = join(dir, "tail.bin");
      writeFileSync(tail, Buffer.alloc(0x10000, 0x5a));
      const past = await cli([
        "flash",
        "--port",
        chip.port,
        "--image",
        tail,
        "--offset",
        "0x3f8000",
        "--no-stub",
        "--json",
      ]);
      expect(past.status, past.stderr).toBe(2);
      expect(JSON.parse(past.stdout).error.message).toMatch(/ends at 0x408000, past the chip's 4 MB flash/);
      await chip.stop();
      expect(sha(chip.flashFile)).toBe(before);
    },
    FLASH_TEST_MS,
  );
});

describe("an interrupted flash", () => {
  it(
    "killed mid-write, then cut off by a power cut mid-write: the next run writes what is missing and the app boots",
    async () => {
      let chip = await board("interrupted");
      const killed = await cli(flashArgs(chip.port), {
        kill: { after: /write app at 0x10000/, signal: "SIGKILL" },
      });
      expect(killed.signal).toBe("SIGKILL");

      // The power goes while the next run writes the app: the run fails, the board does not boot the half app.
      const cut = await cli(flashArgs(chip.port), {
        watch: { after: /write app at 0x10000/, act: () => void chip.board?.powerCut() },
      });
      expect(cut.status).not.toBe(0);
      await chip.board?.powerOn();
      await expect(helloOn(chip.port, 3_000)).rejects.toThrow(/no answer/);

      const done = await cli(flashArgs(chip.port));
      expect(done.status, done.stderr).toBe(0);
      const out = JSON.parse(done.stdout);
      // bootloader and partition table made it the first time; the app is written again, whole
      expect(out.regions.map((x: { role: string; written: boolean }) => [x.role, x.written])).toEqual([
        ["bootloader", false],
        ["partition-table", false],
        ["app", true],
      ]);
      expect((await helloOn(chip.port)).hello.deviceId).toBe(chip.deviceId);
      await chip.stop();
      chip = await board("interrupted", false);
      expect((await helloOn(chip.port)).status.state).toBe(DEVICE_STATE.EMPTY);
    },
    FLASH_TEST_MS,
  );
});

describe("a board already in the ROM loader on socket:// (the emulator's TCP UART, a ser2net rig)", () => {
  it(
    "--before no-reset writes one file at --offset; the kit's esptool verifies it over the same socket",
    async () => {
      const { startEmulatedChip } = await import("../src/emulator/emulated-chip.js");
      const chip = await startEmulatedChip({
        stateDir: join(dir, "socket"),
        blank: true,
        download: true,
        uart: "tcp",
        waitForApp: false,
      });
      boards.push(chip);
      expect(chip.port).toMatch(/^socket:\/\/127\.0\.0\.1:\d+$/);
      const r = await cli([
        "flash",
        "--port",
        chip.port,
        "--image",
        files.table,
        "--offset",
        "0x8000",
        "--before",
        "no-reset",
        "--after",
        "no-reset",
        "--no-stub",
        "--json",
      ]);
      expect(r.status, r.stderr).toBe(0);
      const out = JSON.parse(r.stdout);
      expectDocumented(out);
      expect(out).toMatchObject({ command: "flash", ok: true, outcome: "flashed" });
      expect(out.chip.mac.replaceAll(":", "")).toBe(chip.deviceId);
      expect(out.regions).toEqual([
        expect.objectContaining({
          offset: "0x8000",
          written: true,
          md5: createHash("md5").update(readFileSync(files.table)).digest("hex"),
        }),
      ]);
      // The chip stayed in its loader (no reset lines, --after no-reset): esptool finds it there.
      const verify = await esptool([
        "--chip",
        "esp32c3",
        "--port",
        chip.port,
        "--before",
        "no_reset",
        "--after",
        "no_reset",
        "--no-stub",
        "verify_flash",
        "0x8000",
        files.table,
      ]);
      expect(verify.status, verify.output).toBe(0);
      expect(verify.output).toMatch(/-- verify OK/);
    },
    FLASH_TEST_MS,
  );
});
