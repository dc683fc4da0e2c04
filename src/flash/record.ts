/**
 * What a flash leaves for the audit trail (the ledger's "flashed" record, the
 * station's device line, the manifest's columns): the chip, its flash, the
 * image and what was written. Pure.
 */
import type { FirstStep } from "./options.js";

/** The traceability of a flash: the chip, its flash, the image and what was written (none of it when it ran the build). */
export interface FlashRecord {
  chip?: string;
  revision?: string;
  mac?: string;
  flashId?: string;
  /** The app's build (ESP-IDF's ELF SHA-256) and version, when the image has an ESP-IDF app. */
  appElfSha256?: string;
  appVersion?: string;
  /** offset -> MD5 of every region, as verified on the chip. */
  regions: { offset: string; role: string; md5: string; written: boolean }[];
  /** flashed; unchanged (the loader found every region there); running (its HELLO reported this build). */
  outcome: "flashed" | "unchanged" | "running";
  ms: number;
}

export function flashRecord(first: FirstStep): FlashRecord {
  if ("running" in first)
    return {
      appElfSha256: first.running.elfSha256,
      appVersion: first.running.version,
      regions: [],
      outcome: "running",
      ms: 0,
    };
  const r = first.flashed;
  return {
    chip: r.chip.type,
    ...(r.chip.revision ? { revision: r.chip.revision } : {}),
    mac: r.chip.mac,
    flashId: r.chip.flashId,
    ...(r.app ? { appElfSha256: r.app.elfSha256, appVersion: r.app.version } : {}),
    regions: r.regions.map((x) => ({ offset: x.offset, role: x.role, md5: x.md5, written: x.written })),
    outcome: r.unchanged ? "unchanged" : "flashed",
    ms: r.durationMs,
  };
}
