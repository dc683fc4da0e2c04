/**
 * The station's manifest of provisioned devices: one row per device and
 * certificate, in CSV (for a spreadsheet or the ERP) and JSONL (for tools).
 * Rows are appended (and fsynced) as devices finish, so a crash loses at
 * most the device in flight; a restarted station reads the JSONL back and
 * never writes a second row for the same device and certificate.
 */
import { existsSync } from "node:fs";
import { type FileHandle, mkdir, open, readFile } from "node:fs/promises";
import { dirname } from "node:path";
import { ProvisionError } from "../errors.js";
import { printable, safeJson } from "../printable.js";

export interface ManifestRow {
  deviceId: string;
  thingName: string;
  /** Empty when a device was verified and no ledger knows its certificate. */
  certificateId: string;
  board: string;
  firmware: string;
  stationId: string;
  /** ISO 8601 UTC. */
  time: string;
  /** provisioned | rotated | verified */
  result: string;
  port: string;
  slot: string;
  /** `--flash`: the chip the board carries and what was flashed (docs/station.md, "Manifest columns"). */
  chip?: string;
  chipRevision?: string;
  mac?: string;
  flashId?: string;
  /** The app's build: the ELF's SHA-256 (ESP-IDF's app description). */
  appElfSha256?: string;
  /** flashed | unchanged | running; empty without --flash. */
  flash?: string;
}

/** The columns every manifest row has (manifests written before --flash have only these). */
export const MANIFEST_REQUIRED_COLUMNS: readonly (keyof ManifestRow)[] = [
  "deviceId",
  "thingName",
  "certificateId",
  "board",
  "firmware",
  "stationId",
  "time",
  "result",
  "port",
  "slot",
];

export const MANIFEST_COLUMNS: readonly (keyof ManifestRow)[] = [
  ...MANIFEST_REQUIRED_COLUMNS,
  "chip",
  "chipRevision",
  "mac",
  "flashId",
  "appElfSha256",
  "flash",
];

/**
 * RFC 4180: quote fields holding a comma, quote or line break; double the
 * quotes. Device text (board, firmware) is shown escaped first: a CSV opened
 * in a terminal or a spreadsheet must not carry raw escape sequences.
 */
export function csvField(value: string): string {
  const text = printable(value);
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/**
 * The manifest's two files for a prefix: `<prefix>.manifest.csv` and
 * `<prefix>.manifest.jsonl` (a prefix that already ends in "manifest", such
 * as the default, is not doubled). They always end in `manifest.*`, so a
 * ledger named after the line (`line3.jsonl`) is never one of them.
 */
export function manifestFiles(prefix: string): { csvFile: string; jsonlFile: string } {
  const bare = prefix.replace(/\.(csv|jsonl)$/, "");
  const base = /manifest$/i.test(bare) ? bare : `${bare}.manifest`;
  return { csvFile: `${base}.csv`, jsonlFile: `${base}.jsonl` };
}

export function csvLine(
  row: ManifestRow,
  columns: readonly (keyof ManifestRow)[] = MANIFEST_COLUMNS,
): string {
  return `${columns.map((c) => csvField(row[c] ?? "")).join(",")}\r\n`;
}

/** The columns an existing CSV was started with (an older manifest keeps its own), else all of them. */
async function csvColumns(file: string): Promise<readonly (keyof ManifestRow)[]> {
  if (!existsSync(file)) return MANIFEST_COLUMNS;
  const header = (await readFile(file, "utf8")).split(/\r?\n/, 1)[0] ?? "";
  const names = header.split(",");
  const known = names.every((n) => (MANIFEST_COLUMNS as readonly string[]).includes(n));
  return known && names.length > 0 ? (names as (keyof ManifestRow)[]) : MANIFEST_COLUMNS;
}

const keyOf = (deviceId: string, certificateId: string) => `${deviceId}\u0000${certificateId}`;

export class Manifest {
  readonly csvFile: string;
  readonly jsonlFile: string;
  private readonly seen: Set<string>;
  private csv: FileHandle | undefined;
  private jsonl: FileHandle | undefined;
  private queue: Promise<void> = Promise.resolve();

  private constructor(
    prefix: string,
    seen: Set<string>,
    csv: FileHandle,
    jsonl: FileHandle,
    private readonly columns: readonly (keyof ManifestRow)[],
  ) {
    ({ csvFile: this.csvFile, jsonlFile: this.jsonlFile } = manifestFiles(prefix));
    this.seen = seen;
    this.csv = csv;
    this.jsonl = jsonl;
  }

  /** Opens the manifest's CSV and JSONL (manifestFiles) for appending, reading back the rows already there. */
  static async open(prefix: string): Promise<Manifest> {
    const { csvFile, jsonlFile } = manifestFiles(prefix);
    const seen = new Set<string>();
    try {
      await mkdir(dirname(csvFile), { recursive: true });
      if (existsSync(jsonlFile)) {
        for (const line of (await readFile(jsonlFile, "utf8")).split("\n")) {
          if (line.trim() === "") continue;
          try {
            const row = JSON.parse(line) as ManifestRow;
            seen.add(keyOf(row.deviceId, row.certificateId));
          } catch {
            // a torn last line from a crash: the device is written again, which is what we want
          }
        }
      }
      const newCsv = !existsSync(csvFile);
      const columns = await csvColumns(csvFile);
      const csv = await open(csvFile, "a", 0o644);
      const jsonl = await open(jsonlFile, "a", 0o644);
      if (newCsv) await csv.write(`${columns.join(",")}\r\n`);
      return new Manifest(prefix, seen, csv, jsonl, columns);
    } catch (e) {
      throw new ProvisionError("CONFIG", `cannot open the manifest ${csvFile}: ${(e as Error).message}`, {
        where: csvFile,
        hint: "give --manifest a writable path prefix",
        cause: e,
      });
    }
  }

  has(deviceId: string, certificateId: string): boolean {
    return this.seen.has(keyOf(deviceId, certificateId));
  }

  /** Appends the row unless this device+certificate is already listed; resolves true when written. */
  add(row: ManifestRow): Promise<boolean> {
    const key = keyOf(row.deviceId, row.certificateId);
    if (this.seen.has(key)) return Promise.resolve(false);
    this.seen.add(key);
    const write = async () => {
      const csv = this.csv;
      const jsonl = this.jsonl;
      if (!csv || !jsonl) throw new ProvisionError("INTERNAL", `manifest ${this.csvFile} is closed`);
      await jsonl.write(`${safeJson(row)}\n`);
      await csv.write(csvLine(row, this.columns));
      await Promise.all([jsonl.sync(), csv.sync()]);
      return true;
    };
    const result = this.queue.then(write);
    this.queue = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }

  async close(): Promise<void> {
    await this.queue;
    await Promise.all([this.csv?.close(), this.jsonl?.close()]);
    this.csv = undefined;
    this.jsonl = undefined;
  }
}
