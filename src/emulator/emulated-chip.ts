/**
 * An emulated ESP32-C3 as a device: `provision sim --board
 * esp32-c3-devkitm-1 --emulate`. Its state dir holds what a chip keeps
 * across power cycles: `flash.bin` (the SPI flash; NVS with the key and the
 * credentials lives in it) and `efuse.bin` (its factory MAC = device id).
 * The flash starts as the built image (or blank, erased, for flashing
 * through the ROM loader) and is never replaced afterwards.
 *
 * It keeps the twins' contract (src/twin/launcher.ts: port, deviceId,
 * stateDir, pid, stop, kill), so sim, tests and the station treat it as
 * any device on a pty.
 */
import { createHash } from "node:crypto";
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { ProvisionError } from "../errors.js";
import type { ChipImage } from "../firmware/chip-image.js";
import { type ChipKit, ensureChipKit } from "../firmware/chip-kit.js";
import { flashSizeBytes } from "../firmware/flasher-args.js";
import { BOOT_TIMEOUT_DEFAULT_MS, DeviceSession, helloAfterBoot } from "../session/index.js";
import { openSerialTransport } from "../transport/index.js";
import type { Twin } from "../twin/index.js";
import { type Board, startBoard } from "./board.js";
import { efuseImage, macOf } from "./efuse.js";
import { startQemu } from "./qemu.js";

/** Chips this emulator models (the kit's QEMU has the esp32c3 machine only). */
export const EMULATED_CHIPS: readonly string[] = ["esp32c3"];
/** Booting under `-icount 3` on a loaded 2-core host took up to ~8 s: the emulated chip gets more than a chip. */
export const EMULATED_BOOT_TIMEOUT_MS = 6 * BOOT_TIMEOUT_DEFAULT_MS;
const FLASH_FILE = "flash.bin";
const EFUSE_FILE = "efuse.bin";
const STOP_TIMEOUT_MS = 3_000;
const FLASH_SIZE_DEFAULT = "4MB";

export interface EmulatedChipOptions {
  stateDir: string;
  /** The first flash content: this image's merged file. Without it, and with `blank`, erased flash. */
  image?: ChipImage;
  /** Start from erased flash (0xFF) when the state dir has none yet: a blank board for `provision flash`. */
  blank?: boolean;
  /** 12 hex digits (the eFuse MAC); default: the one in the state dir, else derived from its path. */
  deviceId?: string;
  /** Strapping pins for the ROM's UART download mode. */
  download?: boolean;
  /**
   * UART0 on a pty (default); on a TCP socket (socket://127.0.0.1:PORT, as
   * esptool writes it; no reset lines); or behind an emulated board with the
   * auto-reset circuit, as an RFC 2217 port (rfc2217://127.0.0.1:PORT): DTR
   * and RTS reset the chip into the app or the ROM loader (board.ts).
   */
  uart?: "pty" | "tcp" | "rfc2217";
  /** Wait until the app answers HELLO before resolving (default: when booting an app over a pty). */
  waitForApp?: boolean;
  bootTimeoutMs?: number;
}

export interface EmulatedChip extends Twin {
  /** uart "rfc2217": the board (power cuts, boot count, the chip's mode). */
  board?: Board;
  flashFile: string;
  efuseFile: string;
  /** QEMU start to the app's first HELLO answer (when waited for). */
  bootMs: number | undefined;
  /** QEMU's own messages. */
  readonly qemuOutput: string[];
}

/** A unicast MAC for a state dir, stable across runs (a locally administered one: bit 1 of byte 0 set). */
export function macForStateDir(stateDir: string): string {
  const b = createHash("sha256").update(resolve(stateDir)).digest().subarray(0, 6);
  b[0] = ((b[0] ?? 0) & 0xfc) | 0x02;
  return b.toString("hex");
}

function prepareState(o: EmulatedChipOptions): { flashFile: string; efuseFile: string; deviceId: string } {
  const stateDir = resolve(o.stateDir);
  mkdirSync(stateDir, { recursive: true });
  const flashFile = join(stateDir, FLASH_FILE);
  const efuseFile = join(stateDir, EFUSE_FILE);
  if (!existsSync(flashFile)) {
    if (o.image) copyFileSync(o.image.merged, flashFile);
    else if (o.blank) {
      const size = flashSizeBytes(FLASH_SIZE_DEFAULT) ?? 0;
      writeFileSync(flashFile, Buffer.alloc(size, 0xff));
    } else
      throw new ProvisionError(
        "USAGE",
        "this emulated chip has no flash yet: give it an image or start it blank",
        {
          where: stateDir,
        },
      );
  }
  let deviceId: string;
  if (existsSync(efuseFile)) {
    deviceId = macOf(readFileSync(efuseFile));
    if (o.deviceId && o.deviceId !== deviceId)
      throw new ProvisionError("USAGE", `this emulated chip's eFuse MAC is ${deviceId}, not ${o.deviceId}`, {
        where: efuseFile,
        hint: "eFuses are one-time programmable: use another state dir for another chip",
      });
  } else {
    deviceId = o.deviceId ?? macForStateDir(stateDir);
    writeFileSync(efuseFile, efuseImage(deviceId));
  }
  return { flashFile, efuseFile, deviceId };
}

/** Starts QEMU on the state dir and (by default) waits until the app answers HELLO. */
export async function startEmulatedChip(o: EmulatedChipOptions): Promise<EmulatedChip> {
  const kit = await ensureChipKit();
  const stateDir = resolve(o.stateDir);
  const { flashFile, efuseFile, deviceId } = prepareState(o);
  const started = Date.now();
  if (o.uart === "rfc2217") return onBoard(o, { kit, stateDir, flashFile, efuseFile, deviceId });
  const qemu = await startQemu({ kit, flashFile, efuseFile, download: o.download, uart: o.uart });
  let bootMs: number | undefined;
  const waitForApp = o.waitForApp ?? (!o.download && (o.uart ?? "pty") === "pty");
  if (waitForApp) {
    try {
      await awaitApp(qemu.port, qemu.exited, qemu.output, o.bootTimeoutMs ?? EMULATED_BOOT_TIMEOUT_MS);
      bootMs = Date.now() - started;
    } catch (e) {
      await qemu.kill("SIGKILL");
      throw e;
    }
  }
  const stop = async () => {
    const timer = setTimeout(() => void qemu.kill("SIGKILL"), STOP_TIMEOUT_MS);
    await qemu.kill("SIGTERM");
    clearTimeout(timer);
  };
  return {
    firmware: "emulated-chip",
    port: qemu.port,
    deviceId,
    stateDir,
    pid: qemu.pid,
    stderrLines: qemu.output,
    qemuOutput: qemu.output,
    exited: qemu.exited,
    stop,
    kill: (signal: NodeJS.Signals = "SIGTERM") => qemu.kill(signal),
    flashFile,
    efuseFile,
    bootMs,
  };
}

/** Resets seen before the app answered that make a boot loop (a crash or an abort during start-up). */
const BOOT_LOOP_RESETS = 3;

/** The chip behind an emulated board with reset lines, served as an RFC 2217 port. */
async function onBoard(
  o: EmulatedChipOptions,
  s: { kit: ChipKit; stateDir: string; flashFile: string; efuseFile: string; deviceId: string },
): Promise<EmulatedChip> {
  const started = Date.now();
  const board = await startBoard({
    kit: s.kit,
    flashFile: s.flashFile,
    efuseFile: s.efuseFile,
    download: o.download,
  });
  let bootMs: number | undefined;
  if (o.waitForApp ?? !o.download) {
    try {
      await awaitApp(board.port, board.closed, board.qemuOutput, o.bootTimeoutMs ?? EMULATED_BOOT_TIMEOUT_MS);
      bootMs = Date.now() - started;
    } catch (e) {
      await board.stop();
      throw e;
    }
  }
  return {
    firmware: "emulated-chip",
    port: board.port,
    deviceId: s.deviceId,
    stateDir: s.stateDir,
    get pid() {
      return board.pid;
    },
    stderrLines: board.qemuOutput,
    qemuOutput: board.qemuOutput,
    exited: board.closed.then(() => 0),
    stop: () => board.stop(),
    // Unplugging the board is as close as it gets to a signal: the chip and the port are gone.
    kill: () => board.stop(),
    flashFile: s.flashFile,
    efuseFile: s.efuseFile,
    bootMs,
    board,
  };
}

/** The app is up when its console answers HELLO; the port is closed again for whoever uses the chip. */
async function awaitApp(
  port: string,
  exited: Promise<unknown>,
  qemuOutput: string[],
  budgetMs: number,
): Promise<void> {
  const transport = await openSerialTransport(port);
  const session = new DeviceSession(transport);
  let resets = 0;
  let looping: (() => void) | undefined;
  const bootLoop = new Promise<never>((_, fail) => {
    looping = () =>
      fail(
        new ProvisionError(
          "DEVICE_SILENT",
          `the app restarts during start-up: ${resets} boots and no answer`,
          {
            where: port,
            hint:
              "the firmware resets before its console runs; its log below shows how far each boot got " +
              "(an nvs-encrypted image does so on the emulated chip, which models no HMAC peripheral: use --key-store nvs)",
            deviceLog: session.deviceLog,
          },
        ),
      );
  });
  // The ROM prints its reset reason at every boot.
  session.on("log", (line) => {
    if (/^rst:0x/.test(line) && ++resets >= BOOT_LOOP_RESETS) looping?.();
  });
  try {
    await Promise.race([
      bootLoop,
      helloAfterBoot(session, budgetMs),
      exited.then((code) => {
        throw new ProvisionError("INTERNAL", `QEMU exited (code ${code}) while the chip booted`, {
          where: port,
          deviceLog: [...session.deviceLog, ...qemuOutput],
        });
      }),
    ]);
  } finally {
    await session.close();
  }
}
