/**
 * One manifest from several stations' manifests (`provision manifest
 * merge`): each station writes its own (ledgers and manifests stay per
 * station), and the line or the ERP wants one list. Rows are taken in time
 * order; a device and certificate already listed (in another input, or in
 * the output from an earlier merge) is listed once, so merging again adds
 * only what is new.
 */
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { ProvisionError } from "../errors.js";
import { printable } from "../printable.js";
import { MANIFEST_REQUIRED_COLUMNS, Manifest, type ManifestRow, manifestFiles } from "./manifest.js";

export interface ManifestMergeReport {
  inputs: { file: string; rows: number; tornLastLine: boolean }[];
  /** Rows appended to the output. */
  written: number;
  /** Rows left out because the device and certificate were listed already. */
  duplicates: number;
  csvFile: string;
  jsonlFile: string;
}

/** A manifest named by its prefix: `<prefix>.manifest.jsonl`, or a station's from before that name, `<prefix>.jsonl`. */
function jsonlOf(input: string): string {
  if (input.endsWith(".jsonl")) return input;
  const named = manifestFiles(input).jsonlFile;
  return existsSync(named) || !existsSync(`${input}.jsonl`) ? named : `${input}.jsonl`;
}

/** Certificates listed for more than one device: one of the stations' records is wrong. */
function sharedCertificates(rows: readonly (ManifestRow & { from: string })[]): string[] {
  const devicesOf = new Map<string, Map<string, string>>();
  for (const r of rows) {
    if (r.certificateId === "") continue;
    const devices = devicesOf.get(r.certificateId) ?? new Map<string, string>();
    if (!devices.has(r.deviceId)) devices.set(r.deviceId, r.from);
    devicesOf.set(r.certificateId, devices);
  }
  return [...devicesOf]
    .filter(([, devices]) => devices.size > 1)
    .map(
      ([cert, devices]) =>
        `certificate ${cert} is listed for ${[...devices].map(([d, from]) => `${printable(d)} (${from})`).join(" and ")}`,
    );
}

function isRow(v: unknown): v is ManifestRow {
  if (typeof v !== "object" || v === null) return false;
  return MANIFEST_REQUIRED_COLUMNS.every((c) => typeof (v as Record<string, unknown>)[c] === "string");
}

/** A manifest's JSONL rows; a torn last line (a crash mid-write) is left out, any other bad line is an error. */
export async function readManifestRows(
  file: string,
): Promise<{ rows: ManifestRow[]; tornLastLine: boolean }> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (e) {
    throw new ProvisionError("CONFIG", `cannot read the manifest ${file}: ${(e as Error).message}`, {
      where: file,
      hint: "name each station's manifest by its --manifest PREFIX, or its .jsonl file",
      cause: e,
    });
  }
  const lines = text.split("\n");
  const rows: ManifestRow[] = [];
  let tornLastLine = false;
  for (const [i, line] of lines.entries()) {
    if (line.trim() === "") continue;
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch {
      parsed = undefined;
    }
    if (isRow(parsed)) {
      rows.push(parsed);
    } else if (i === lines.length - 1) {
      tornLastLine = true;
    } else {
      throw new ProvisionError(
        "CONFIG",
        `${file}:${i + 1} is not a manifest row (${MANIFEST_REQUIRED_COLUMNS.join(", ")})`,
        {
          where: `${file}:${i + 1}`,
          hint: "merge only manifests written by `provision station` (their .jsonl files)",
        },
      );
    }
  }
  return { rows, tornLastLine };
}

export async function mergeManifests(
  inputs: readonly string[],
  outPrefix: string,
): Promise<ManifestMergeReport> {
  if (inputs.length === 0) throw new ProvisionError("USAGE", "manifest merge: name at least one manifest");
  const outJsonl = resolve(manifestFiles(outPrefix).jsonlFile);
  const files = inputs.map(jsonlOf);
  if (files.some((f) => resolve(f) === outJsonl)) {
    throw new ProvisionError("USAGE", `manifest merge: --out ${outPrefix} is also an input`, {
      hint: "write the merged manifest under a new prefix",
    });
  }
  const read = await Promise.all(files.map(async (file) => ({ file, ...(await readManifestRows(file)) })));
  // Stable: rows with the same time keep their input order.
  const all = read.flatMap((r) => r.rows).sort((a, b) => (a.time < b.time ? -1 : a.time > b.time ? 1 : 0));
  const earlier = existsSync(outJsonl) ? (await readManifestRows(outJsonl)).rows : [];
  const shared = sharedCertificates([
    ...earlier.map((r) => ({ ...r, from: outJsonl })),
    ...read.flatMap((r) => r.rows.map((row) => ({ ...row, from: r.file }))),
  ]);
  if (shared.length > 0) {
    // Nothing is written: the merged list would vouch for a certificate that two devices cannot both hold.
    throw new ProvisionError("CONFIG", `manifest merge: ${shared.join("; ")}`, {
      where: shared.length === 1 ? files.join(", ") : `${shared.length} certificates`,
      hint: "one certificate belongs to one device: check those devices (`provision verify`) and the stations' ledgers, correct the wrong manifest, then merge again",
      details: { sharedCertificates: shared },
    });
  }
  const out = await Manifest.open(outPrefix);
  let written = 0;
  try {
    for (const row of all) if (await out.add(row)) written++;
  } finally {
    await out.close();
  }
  return {
    inputs: read.map((r) => ({ file: r.file, rows: r.rows.length, tornLastLine: r.tornLastLine })),
    written,
    duplicates: all.length - written,
    csvFile: out.csvFile,
    jsonlFile: out.jsonlFile,
  };
}
