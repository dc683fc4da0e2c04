/**
 * Flashing one board: the image plan checked on its own, the ROM loader
 * entered, the plan checked against the chip and the credentials policy,
 * every region whose MD5 on the chip differs written compressed and verified
 * by MD5, then a reset into the app. A region already on the chip (same MD5)
 * is not written again unless `reflash`, so a re-run after an interrupted
 * flash writes exactly what is missing or wrong.
 */
import { ProvisionError } from "../errors.js";
import { isNvs } from "../firmware/partition-table.js";
import type { AppDescription } from "./image.js";
import {
  type After,
  type Before,
  type ChipInfo,
  type LoaderSession,
  loaderError,
  openLoader,
} from "./loader.js";
import {
  applyCredentialsPolicy,
  blankMd5,
  checkAgainstChip,
  type FlashImage,
  type ImageSpec,
  loadFlashImage,
  type PlannedRegion,
} from "./plan.js";

/** What flashing reports as it goes: the pipeline's Progress (src/provision/progress.ts) has this shape. */
export interface FlashProgress {
  step<T>(name: string, label: string, run: () => Promise<T>, describe?: (r: T) => string): Promise<T>;
  info(text: string): void;
}

export interface FlashOptions {
  port: string;
  image: ImageSpec | FlashImage;
  before: Before;
  after: After;
  baud: number;
  stub: boolean;
  eraseCredentials: boolean;
  eraseAll: boolean;
  /** Write every region even when the chip already holds it. */
  reflash: boolean;
  usb?: { vendorId: number; productId: number };
  signal?: AbortSignal;
  /** Per region: bytes of the (compressed) payload sent so far. */
  onRegionProgress?: (region: PlannedRegion, sent: number, total: number) => void;
}

export interface RegionResult {
  offset: string;
  role: PlannedRegion["role"];
  file: string;
  size: number;
  md5: string;
  /** False: the chip already held these bytes (same MD5), nothing was sent. */
  written: boolean;
  sentBytes?: number;
  ms?: number;
  /** Image bytes per second of the write, MD5 check included. */
  bytesPerSecond?: number;
}

export interface FlashResult {
  port: string;
  source: string;
  chip: ChipInfo;
  regions: RegionResult[];
  /** The NVS partition (key and credentials): whether it held anything, and whether it was kept. */
  nvs?: { offset: string; size: number; blank: boolean; kept: boolean };
  app?: AppDescription;
  /** Nothing needed writing: the chip held the whole image. */
  unchanged: boolean;
  durationMs: number;
}

const hex = (n: number) => `0x${n.toString(16)}`;
const kib = (n: number) => `${(n / 1024).toFixed(n < 10_240 ? 1 : 0)} KiB`;

export async function flashDevice(o: FlashOptions, progress: FlashProgress): Promise<FlashResult> {
  const started = Date.now();
  // Everything about the image is checked before the port is opened.
  const image = "regions" in o.image ? o.image : loadFlashImage(o.image);
  throwIfAborted(o.signal);
  const session = await progress.step(
    "loader",
    `enter the ROM loader on ${o.port} (${o.before}${o.stub ? "" : ", no stub"})`,
    () => openLoader(o),
    (s) =>
      `${s.chip.description}, MAC ${s.chip.mac}, flash ${s.chip.flashId}${s.chip.flashSizeBytes ? ` (${s.chip.flashSizeBytes / 1048576} MB)` : ""}, ${s.chip.baud} baud`,
  );
  try {
    checkAgainstChip(image, { name: session.chip.type, flashSizeBytes: session.chip.flashSizeBytes }, o.port);
    const nvs = await nvsState(image, session, o);
    const regions = applyCredentialsPolicy(
      image,
      { eraseCredentials: o.eraseCredentials, eraseAll: o.eraseAll },
      session.chip.flashSizeBytes ?? 0,
    );
    const results: RegionResult[] = [];
    for (const r of regions) {
      throwIfAborted(o.signal);
      results.push(await writeRegion(session, r, o, progress));
    }
    throwIfAborted(o.signal);
    if (o.after === "hard-reset")
      await progress.step("reset", "reset into the app (RTS)", () => session.leave(o.after));
    return {
      port: o.port,
      source: image.source,
      chip: session.chip,
      regions: results,
      ...(nvs ? { nvs } : {}),
      ...(image.app ? { app: image.app } : {}),
      unchanged: results.every((r) => !r.written),
      durationMs: Date.now() - started,
    };
  } catch (e) {
    throw loaderError(e, o, session.log);
  } finally {
    await session.close();
  }
}

/** Is the NVS partition blank (MD5 of erased flash)? Said before anything is written over it. */
async function nvsState(image: FlashImage, session: LoaderSession, o: FlashOptions) {
  const p = image.partitions.find(isNvs);
  if (!p) return undefined;
  const blank = (await session.md5(p.offset, p.size)) === blankMd5(p.size);
  const kept = !o.eraseCredentials && !o.eraseAll;
  return { offset: hex(p.offset), size: p.size, blank, kept };
}

async function writeRegion(
  session: LoaderSession,
  r: PlannedRegion,
  o: FlashOptions,
  progress: FlashProgress,
): Promise<RegionResult> {
  const base = { offset: hex(r.offset), role: r.role, file: r.file, size: r.data.length, md5: r.md5 };
  if (!o.reflash && (await session.md5(r.offset, r.data.length)) === r.md5) {
    progress.info(
      `${r.role} at ${hex(r.offset)} (${kib(r.data.length)}) is already on the chip (MD5 ${r.md5.slice(0, 12)}…): not written`,
    );
    return { ...base, written: false };
  }
  const w = await progress.step(
    `flash:${r.role}`,
    `${r.role === "erase" ? "erase" : `write ${r.role}`} at ${hex(r.offset)}: ${kib(r.data.length)}`,
    () => session.write(r, (sent, total) => o.onRegionProgress?.(r, sent, total)),
    (x) =>
      `${kib(x.sentBytes)} sent compressed in ${(x.ms / 1000).toFixed(1)} s, ${kib((r.data.length * 1000) / Math.max(1, x.ms))}/s, MD5 verified`,
  );
  return {
    ...base,
    written: true,
    sentBytes: w.sentBytes,
    ms: w.ms,
    bytesPerSecond: Math.round((r.data.length * 1000) / Math.max(1, w.ms)),
  };
}

/** The interruption (its reason names the OS signal), at a safe point between regions. */
function throwIfAborted(signal: AbortSignal | undefined): void {
  if (!signal?.aborted) return;
  if (signal.reason instanceof ProvisionError) throw signal.reason;
  throw new ProvisionError("INTERRUPTED", "flashing interrupted", {
    hint: "the board may hold part of the image: run the flash again (it writes what is missing and verifies every region)",
    cause: signal.reason,
  });
}
