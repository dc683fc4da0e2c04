/**
 * `flasher_args.json`, the file ESP-IDF's build writes beside its images
 * (what `idf.py flash` hands to esptool): the regions to write (offset ->
 * file), the flash settings, and esptool's chip/before/after/stub. Pure
 * parsing and checking; reading files is the caller's.
 */
import { isAbsolute, join } from "node:path";
import { z } from "zod";

export const FLASHER_ARGS_FILE = "flasher_args.json";

const hexOffset = z.string().regex(/^0x[0-9a-fA-F]+$/, "an offset like 0x10000");

const schema = z.object({
  flash_settings: z.object({
    flash_mode: z.string(),
    flash_size: z.string(),
    flash_freq: z.string(),
  }),
  flash_files: z.record(hexOffset, z.string().min(1)),
  extra_esptool_args: z
    .object({
      chip: z.string(),
      before: z.string().optional(),
      after: z.string().optional(),
      stub: z.boolean().optional(),
    })
    .passthrough(),
  bootloader: z.object({ offset: hexOffset, file: z.string() }).optional(),
  app: z.object({ offset: hexOffset, file: z.string() }).optional(),
  "partition-table": z.object({ offset: hexOffset, file: z.string() }).optional(),
});

export type RegionRole = "bootloader" | "partition-table" | "app" | "data";

export interface FlashRegion {
  offset: number;
  /** Absolute path. */
  file: string;
  role: RegionRole;
}

export interface FlasherArgs {
  chip: string;
  flashMode: string;
  flashFreq: string;
  /** As ESP-IDF writes it: "4MB", or "keep"/"detect". */
  flashSize: string;
  before: string;
  after: string;
  stub: boolean;
  /** Sorted by offset. */
  regions: FlashRegion[];
}

/** Parses flasher_args.json text from build folder `dir`; throws a TypeError naming the fault. */
export function parseFlasherArgs(text: string, dir: string): FlasherArgs {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new TypeError(`${FLASHER_ARGS_FILE} is not JSON: ${(e as Error).message}`);
  }
  const r = schema.safeParse(raw);
  if (!r.success) {
    const issue = r.error.issues[0];
    throw new TypeError(`${FLASHER_ARGS_FILE}: ${issue?.path.join(".") || "(top)"}: ${issue?.message}`);
  }
  const a = r.data;
  const roleOf = (offset: string): RegionRole => {
    for (const role of ["bootloader", "partition-table", "app"] as const)
      if (a[role] && Number.parseInt(a[role].offset, 16) === Number.parseInt(offset, 16)) return role;
    return "data";
  };
  const regions = Object.entries(a.flash_files)
    .map(([offset, file]) => ({
      offset: Number.parseInt(offset, 16),
      file: isAbsolute(file) ? file : join(dir, file),
      role: roleOf(offset),
    }))
    .sort((x, y) => x.offset - y.offset);
  return {
    chip: a.extra_esptool_args.chip,
    flashMode: a.flash_settings.flash_mode,
    flashFreq: a.flash_settings.flash_freq,
    flashSize: a.flash_settings.flash_size,
    before: a.extra_esptool_args.before ?? "default_reset",
    after: a.extra_esptool_args.after ?? "hard_reset",
    stub: a.extra_esptool_args.stub ?? true,
    regions,
  };
}

/** "4MB" -> 4 MiB in bytes; undefined for "keep"/"detect". */
export function flashSizeBytes(size: string): number | undefined {
  const m = /^(\d+)MB$/i.exec(size);
  return m ? Number(m[1]) * 1024 * 1024 : undefined;
}
