/**
 * One flash-sized image with every region at its offset and 0xFF (erased
 * NOR flash) elsewhere: what `esptool merge_bin --fill-flash-size` makes,
 * for a build that has no merged image of its own (a real ESP-IDF
 * installation) to boot on the emulated chip.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { type FlasherArgs, flashSizeBytes } from "./flasher-args.js";

export function mergeRegions(args: FlasherArgs, out: string): void {
  const size = flashSizeBytes(args.flashSize);
  if (size === undefined)
    throw new TypeError(`cannot merge for flash size "${args.flashSize}": give a size in MB`);
  const flash = Buffer.alloc(size, 0xff);
  for (const r of args.regions) {
    const bytes = readFileSync(r.file);
    if (r.offset + bytes.length > size)
      throw new TypeError(`${r.file} at 0x${r.offset.toString(16)} runs past the ${args.flashSize} flash`);
    bytes.copy(flash, r.offset);
  }
  writeFileSync(out, flash);
}
