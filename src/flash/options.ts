/**
 * Flashing as the first step of one pass (`provision --port P --flash DIR`,
 * `provision station --flash DIR`) and the flags it shares with `provision
 * flash`: the image is read and checked when the command starts, before any
 * port is opened; each board is then flashed (regions it already holds are
 * not written again), reset into the app and met there, and only then
 * provisioned. A board whose flash did not verify is never registered.
 */
import { getBoard } from "../boards/index.js";
import { ProvisionError } from "../errors.js";
import type { HelloAnswer } from "../protocol/index.js";
import { DeviceSession, helloAfterBoot } from "../session/index.js";
import { type LineOptions, prepareLines } from "../session/prepare-lines.js";
import { openSerialTransport } from "../transport/index.js";
import { type FlashOptions, type FlashProgress, type FlashResult, flashDevice } from "./flash.js";
import { type Before, FLASH_BAUD_DEFAULT } from "./loader.js";
import { type FlashImage, type ImageSpec, loadFlashImage } from "./plan.js";

/** `--offset 0x10000` (hex or decimal), for a merged image file. */
export function parseOffset(text: string): number {
  const n = /^0x[0-9a-f]+$/i.test(text)
    ? Number.parseInt(text, 16)
    : /^\d+$/.test(text)
      ? Number(text)
      : Number.NaN;
  if (!Number.isSafeInteger(n) || n < 0 || n % 4096 !== 0)
    throw new ProvisionError(
      "USAGE",
      `--offset ${text}: expected a flash offset aligned to 4 KiB, e.g. 0x0 or 0x10000`,
      {
        where: "--offset",
      },
    );
  return n;
}

/** The board's reset circuit decides how to enter the loader, unless --before says. */
export function beforeFor(opts: { before?: Before; board?: string }): Before {
  if (opts.before) return opts.before;
  if (!opts.board) return "default-reset";
  const strategy = getBoard(opts.board).reset.strategy;
  return strategy === "usb-jtag-serial" ? "usb-reset" : strategy === "none" ? "no-reset" : "default-reset";
}

export function imageSpec(opts: { image: string; offset?: string }): ImageSpec {
  return opts.offset === undefined
    ? { dir: opts.image }
    : { file: opts.image, offset: parseOffset(opts.offset) };
}

export interface FlashFlags {
  /** A build folder, or a merged image with flashOffset. */
  flash?: string;
  flashOffset?: string;
  flashBaud?: number;
  /** commander's --no-stub */
  stub?: boolean;
  reflash?: boolean;
  eraseCredentials?: boolean;
  before?: Before;
  board?: string;
}

/** The image of `--flash`, read and checked now (exit 2 on a bad one), or undefined without --flash. */
export function flashImageOf(flags: FlashFlags): FlashImage | undefined {
  if (flags.flash === undefined) {
    const stray = (["flashOffset", "reflash", "eraseCredentials"] as const).find(
      (k) => flags[k] !== undefined,
    );
    if (stray)
      throw new ProvisionError(
        "USAGE",
        `--${stray.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} goes with --flash`,
        {
          where: `--${stray}`,
          hint: "add --flash BUILD_DIR, or use `provision flash`",
        },
      );
    return undefined;
  }
  return loadFlashImage(imageSpec({ image: flags.flash, offset: flags.flashOffset }));
}

export function flashOptionsFor(
  flags: FlashFlags,
  image: FlashImage,
  port: string,
  extra: Pick<FlashOptions, "signal" | "onRegionProgress"> = {},
): FlashOptions {
  return {
    port,
    image,
    before: beforeFor(flags),
    after: "hard-reset",
    baud: flags.flashBaud ?? FLASH_BAUD_DEFAULT,
    stub: flags.stub !== false,
    eraseCredentials: Boolean(flags.eraseCredentials),
    eraseAll: false,
    reflash: Boolean(flags.reflash),
    ...extra,
  };
}

/** Flashes the board on `port`; the caller then opens the port without another reset and meets the app. */
export function flashStep(
  flags: FlashFlags,
  image: FlashImage,
  port: string,
  progress: FlashProgress,
  extra: Pick<FlashOptions, "signal" | "onRegionProgress"> = {},
): Promise<FlashResult> {
  return flashDevice(flashOptionsFor(flags, image, port, extra), progress);
}

/** The freshly flashed firmware, booting: HELLO until it answers (within the session's boot budget). */
export function meetAfterFlash(session: DeviceSession, progress: FlashProgress) {
  return progress.step(
    "boot",
    "meet the firmware after flashing",
    () => helloAfterBoot(session),
    (h) => `${h.boardId} ${h.deviceId}, firmware ${h.firmwareVersion}`,
  );
}

/** A board answers within this after the port's reset into the app (silicon boots in well under a second). */
const PROBE_BUDGET_MS = 2_500;
/** Short HELLO attempts: a blank board, or one in its ROM loader, never answers, and should not cost seconds each. */
const PROBE_HELLO = { timeoutMs: 400, attempts: 1 };

/**
 * Does the board on `port` already run the image's build? Its HELLO reports
 * the SHA-256 of the ELF it was made from (0x0B), the image's app
 * description has the same digest: then the board needs no flashing. The
 * port is reset into the app (by the board's reset circuit, `lines`) and
 * closed again; a board that does not answer is simply not running it.
 */
export async function runsBuild(
  port: string,
  image: FlashImage,
  lines: LineOptions,
): Promise<HelloAnswer | undefined> {
  const want = image.app?.elfSha256;
  if (!want) return undefined;
  const transport = await openSerialTransport(port);
  const session = new DeviceSession(transport, { timing: { HELLO: PROBE_HELLO } });
  try {
    await prepareLines(transport, port, lines);
    const until = Date.now() + PROBE_BUDGET_MS;
    for (;;) {
      try {
        const hello = await session.hello();
        return hello.buildSha256?.toString("hex") === want ? hello : undefined;
      } catch {
        if (Date.now() >= until) return undefined;
      }
    }
  } finally {
    await session.close();
  }
}

/** What the one pass's flash step did: wrote (or found) the image through the loader, or met the build running. */
export type FirstStep = { flashed: FlashResult } | { running: { version: string; elfSha256: string } };

/**
 * The one pass's first step: a board that already runs the image's build
 * (its HELLO says so) is left alone; any other is flashed. `--reflash`
 * flashes whatever runs.
 */
export async function flashUnlessRunning(
  flags: FlashFlags & LineOptions,
  image: FlashImage,
  port: string,
  progress: FlashProgress,
  extra: Pick<FlashOptions, "signal" | "onRegionProgress"> = {},
): Promise<FirstStep> {
  if (!flags.reflash && image.app) {
    const running = await progress.step(
      "build",
      `ask the board on ${port} which build it runs`,
      () => runsBuild(port, image, { board: flags.board, reset: flags.reset }),
      (h) =>
        h
          ? `${h.buildVersion ?? "?"}, the image's: not flashed (--reflash flashes anyway)`
          : "another one, or none",
    );
    if (running) return { running: { version: running.buildVersion ?? "", elfSha256: image.app.elfSha256 } };
  }
  return { flashed: await flashStep(flags, image, port, progress, extra) };
}
