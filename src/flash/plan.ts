/**
 * The flashing plan: which bytes go where, checked before a byte is written.
 * From an ESP-IDF build folder (`flasher_args.json`: regions, flash
 * settings, chip) or one merged image at an offset. Two rounds of checks:
 * the image set alone (files there, no overlap, each app fits its
 * partition), then against the detected chip (built for this chip, fits its
 * flash) and the credentials policy: the NVS partition holding the key and
 * the credentials is never written unless asked (`--erase-credentials`).
 * Pure but for reading the image files; it knows nothing of the wire.
 */
import { createHash } from "node:crypto";
import { closeSync, existsSync, fstatSync, openSync, readFileSync, readSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { ProvisionError } from "../errors.js";
import {
  FLASHER_ARGS_FILE,
  type FlashRegion,
  flashSizeBytes,
  parseFlasherArgs,
} from "../firmware/flasher-args.js";
import { isApp, isNvs, type Partition, parsePartitionTable } from "../firmware/partition-table.js";
import { type AppDescription, appDescription, type ImageHeader, imageHeader } from "./image.js";

/** No ESP32-class flash is larger; a bigger file is a mistake (and must not be read into memory). */
export const IMAGE_FILE_MAX_BYTES = 32 * 1024 * 1024;
const PARTITION_TABLE_OFFSET_DEFAULT = 0x8000;

export interface PlannedRegion {
  offset: number;
  role: FlashRegion["role"] | "merged" | "erase";
  /** Where the bytes come from (a file, or "(erased)" for 0xFF). */
  file: string;
  data: Buffer;
  /** Hex MD5 of `data` (what the loader's MD5 must equal after the write). */
  md5: string;
  header?: ImageHeader;
}

export interface FlashImage {
  /** The chip the build is for (flasher_args.json), when known. */
  chip?: string;
  flashMode?: string;
  flashFreq?: string;
  flashSize?: string;
  regions: PlannedRegion[];
  /** The partition table among the images (or inside a merged image), when there is one. */
  partitions: Partition[];
  /** The app's ESP-IDF description (its version and ELF SHA-256: the build a device reports). */
  app?: AppDescription;
  /** What to show: the build folder or the merged file. */
  source: string;
}

export type ImageSpec = { dir: string } | { file: string; offset: number };

const md5 = (b: Uint8Array) => createHash("md5").update(b).digest("hex");
const hex = (n: number) => `0x${n.toString(16)}`;

function usage(message: string, where: string, hint: string): ProvisionError {
  return new ProvisionError("USAGE", message, { where, hint });
}

/** Reads a file with a size cap, from one open descriptor (no unbounded stream, no time-of-check gap). */
function readImageFile(file: string, what: string): Buffer {
  if (!existsSync(file))
    throw usage(
      `${what} ${file} does not exist`,
      file,
      "build the firmware first (provision firmware build, idf.py build)",
    );
  const fd = openSync(file, "r");
  try {
    const stat = fstatSync(fd);
    const size = stat.size;
    if (!stat.isFile())
      throw usage(`${what} ${file} is not a file`, file, "give the image file or the build folder");
    if (size === 0) throw usage(`${what} ${file} is empty`, file, "rebuild the firmware");
    if (size > IMAGE_FILE_MAX_BYTES)
      throw usage(
        `${what} ${file} is ${size} bytes, more than any flash this tool writes (${IMAGE_FILE_MAX_BYTES} bytes)`,
        file,
        "give the image file, not a disk image or a log",
      );
    const data = Buffer.alloc(size);
    readSync(fd, data, 0, size, 0);
    return data;
  } finally {
    closeSync(fd);
  }
}

function region(offset: number, role: PlannedRegion["role"], file: string, data: Buffer): PlannedRegion {
  const header = imageHeader(data);
  return { offset, role, file, data, md5: md5(data), ...(header ? { header } : {}) };
}

/** Reads the image set and checks it on its own; throws USAGE (exit 2) naming the problem. */
export function loadFlashImage(spec: ImageSpec): FlashImage {
  if ("file" in spec) {
    const file = resolve(spec.file);
    if (statSync(file, { throwIfNoEntry: false })?.isDirectory())
      throw usage(
        `--offset goes with a merged image file; ${file} is a folder`,
        file,
        "drop --offset for a build folder",
      );
    const data = readImageFile(file, "image");
    const merged = region(spec.offset, "merged", file, data);
    const tableAt = PARTITION_TABLE_OFFSET_DEFAULT - spec.offset;
    const partitions =
      tableAt >= 0 && tableAt < data.length ? tryTable(data.subarray(tableAt, tableAt + 0xc00)) : [];
    const app = partitions.find(isApp);
    const appAt = app ? app.offset - spec.offset : -1;
    return {
      regions: [merged],
      partitions,
      source: file,
      ...(appAt >= 0 && appAt < data.length ? optionalApp(appDescription(data.subarray(appAt))) : {}),
    };
  }
  const dir = resolve(spec.dir);
  const argsFile = join(dir, FLASHER_ARGS_FILE);
  if (!existsSync(argsFile))
    throw usage(
      `${dir} is not an ESP-IDF build folder: it has no ${FLASHER_ARGS_FILE}`,
      dir,
      "give the build folder (`provision firmware build --json` names it as buildDir, idf.py uses build/), or a merged image file with --offset",
    );
  let args: ReturnType<typeof parseFlasherArgs>;
  try {
    args = parseFlasherArgs(readFileSync(argsFile, "utf8"), dir);
  } catch (e) {
    throw usage(`${argsFile} is unreadable: ${(e as Error).message}`, argsFile, "rebuild the firmware");
  }
  const regions = args.regions.map((r) =>
    region(r.offset, r.role, r.file, readImageFile(r.file, `the ${r.role} image`)),
  );
  const table = regions.find((r) => r.role === "partition-table");
  const partitions = table ? tryTable(table.data) : [];
  const appRegion = regions.find((r) => r.role === "app");
  const image: FlashImage = {
    chip: args.chip,
    flashMode: args.flashMode,
    flashFreq: args.flashFreq,
    flashSize: args.flashSize,
    regions,
    partitions,
    source: dir,
    ...optionalApp(appRegion && appDescription(appRegion.data)),
  };
  checkImageSet(image);
  return image;
}

const optionalApp = (app: AppDescription | undefined) => (app ? { app } : {});

function tryTable(bytes: Buffer): Partition[] {
  try {
    return parsePartitionTable(bytes);
  } catch {
    return [];
  }
}

/** No two regions overlap, and every app image fits the partition it is written to. */
export function checkImageSet(image: FlashImage): void {
  const sorted = [...image.regions].sort((a, b) => a.offset - b.offset);
  for (let i = 1; i < sorted.length; i++) {
    const [a, b] = [sorted[i - 1], sorted[i]];
    if (a && b && a.offset + a.data.length > b.offset)
      throw usage(
        `the ${a.role} image (${hex(a.offset)}-${hex(a.offset + a.data.length)}) overlaps the ${b.role} image at ${hex(b.offset)}`,
        image.source,
        "check flasher_args.json and the partition table: one region runs into the next",
      );
  }
  for (const r of image.regions) {
    const p = image.partitions.find((x) => isApp(x) && x.offset === r.offset);
    if (p && r.data.length > p.size)
      throw usage(
        `the app (${r.data.length} bytes) is larger than its partition "${p.label}" (${p.size} bytes)`,
        r.file,
        "make the partition larger (the board file's flash.partitions) and flash the new partition table too",
      );
  }
}

export interface ChipFacts {
  /** As esptool names it: "ESP32-C3". */
  name: string;
  flashSizeBytes?: number;
}

/** The image against the detected chip: built for it, and fits its flash. */
export function checkAgainstChip(image: FlashImage, chip: ChipFacts, where: string): void {
  const built = image.regions.find((r) => r.header)?.header?.chipName;
  if (built && built !== chip.name)
    throw usage(
      `the image is built for ${built}, but the chip on ${where} is an ${chip.name}`,
      image.source,
      `build the firmware for ${chip.name} (the board file's chip)`,
    );
  const want = image.flashSize ? flashSizeBytes(image.flashSize) : undefined;
  const flash = chip.flashSizeBytes;
  for (const r of image.regions) {
    const end = r.offset + r.data.length;
    if (flash !== undefined && end > flash)
      throw usage(
        `the ${r.role} image ends at ${hex(end)}, past the chip's ${flash / 1048576} MB flash`,
        r.file,
        "build for this flash size (the board file's flash.sizeMB) or use a board with more flash",
      );
  }
  if (want !== undefined && flash !== undefined && want > flash)
    throw usage(
      `the image is built for ${image.flashSize} of flash, the chip has ${flash / 1048576} MB`,
      image.source,
      "build for this flash size (the board file's flash.sizeMB)",
    );
}

export interface CredentialsPolicy {
  /** Erase the NVS partition (the device's key and credentials) as part of this flash. */
  eraseCredentials: boolean;
  /** Everything else the image does not cover is erased too. */
  eraseAll: boolean;
}

/**
 * The regions to write: never into the NVS partition unless the credentials
 * are to go (a merged image is split around it), plus 0xFF regions for what
 * is to be erased. `flashBytes` bounds --erase-all.
 */
export function applyCredentialsPolicy(
  image: FlashImage,
  policy: CredentialsPolicy,
  flashBytes: number,
): PlannedRegion[] {
  const nvs = image.partitions.find(isNvs);
  let regions = image.regions;
  if (nvs && !policy.eraseCredentials && !policy.eraseAll) regions = regions.flatMap((r) => around(r, nvs));
  const erase: PlannedRegion[] = [];
  if (policy.eraseAll) {
    let at = 0;
    for (const r of [...regions].sort((a, b) => a.offset - b.offset)) {
      if (r.offset > at) erase.push(erased(at, r.offset - at));
      at = Math.max(at, r.offset + r.data.length);
    }
    if (at < flashBytes) erase.push(erased(at, flashBytes - at));
  } else if (policy.eraseCredentials && nvs) {
    const covered = regions.some(
      (r) => r.offset <= nvs.offset && r.offset + r.data.length >= nvs.offset + nvs.size,
    );
    if (!covered) erase.push(erased(nvs.offset, nvs.size));
  }
  return [...regions, ...erase].sort((a, b) => a.offset - b.offset);
}

/** The parts of `r` outside `p`. */
function around(r: PlannedRegion, p: Partition): PlannedRegion[] {
  const end = r.offset + r.data.length;
  if (end <= p.offset || r.offset >= p.offset + p.size) return [r];
  const parts: PlannedRegion[] = [];
  if (r.offset < p.offset)
    parts.push(region(r.offset, r.role, r.file, r.data.subarray(0, p.offset - r.offset)));
  if (end > p.offset + p.size)
    parts.push(region(p.offset + p.size, r.role, r.file, r.data.subarray(p.offset + p.size - r.offset)));
  return parts;
}

function erased(offset: number, size: number): PlannedRegion {
  return region(offset, "erase", "(erased)", Buffer.alloc(size, 0xff));
}

/** The MD5 of an erased (0xFF) range: what the loader reports for a blank NVS partition. */
export function blankMd5(size: number): string {
  return md5(Buffer.alloc(size, 0xff));
}
