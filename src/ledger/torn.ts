/**
 * What a crash mid-append leaves at the end of a ledger: a torn last line;
 * and what an edit or another program can leave anywhere: a line that is no
 * record. The next process must not append onto either (a fragment glues to
 * its first record; garbage would sit before every later record), and an
 * audit log must not lose them: Ledger.open moves whatever follows the last
 * record to `<ledger>.torn` (each line with its offset) and cuts the ledger
 * back to its last record; readers skip any line that is no record and say
 * so, wherever it is.
 */
import { appendFile, type FileHandle, open } from "node:fs/promises";
import { ProvisionError } from "../errors.js";

/** How far back from the end a line break is looked for (records are a few hundred bytes). */
const TAIL_SEARCH_BYTES = 1 << 20;
/** Where a record line starts: a fragment glued to a record is cut here. */
const RECORD_START = '{"v":';

export interface TornTail {
  /** Byte offset the fragment started at (the ledger's size now). */
  offset: number;
  bytes: number;
  /** The file the fragment was appended to. */
  keptIn: string;
  /** Lines set aside (a torn last record is one; garbage lines at the end each count). */
  lines: number;
  /** It was one line without its newline: a record a crash cut short, not garbage. */
  torn: boolean;
}

export interface TornLine {
  /** 1-based line number in the file. */
  line: number;
  /** Byte offset of the line in the file. */
  offset: number;
  /** Bytes of the torn fragment. */
  bytes: number;
  /**
   * trailing: the last line, cut short (a crash mid-append); merged: a
   * fragment with a whole record appended right after it; unparsable: a
   * whole line that is not a ledger record (edited, or written by something else).
   */
  kind: "trailing" | "merged" | "unparsable";
}

/** A ledger record: a JSON object with the fields every record has. */
function parseRecord(text: string): Record<string, unknown> | undefined {
  try {
    const v = JSON.parse(text) as unknown;
    if (typeof v !== "object" || v === null || Array.isArray(v)) return undefined;
    const r = v as Record<string, unknown>;
    return typeof r.v === "number" && typeof r.run === "string" && typeof r.event === "string"
      ? r
      : undefined;
  } catch {
    return undefined;
  }
}

/** A fragment glued to a whole record: the record, and where it starts. */
function recordAfterFragment(line: string): { record: Record<string, unknown>; at: number } | undefined {
  for (let at = line.indexOf(RECORD_START, 1); at > 0; at = line.indexOf(RECORD_START, at + 1)) {
    const record = parseRecord(line.slice(at));
    if (record) return { record, at };
  }
  return undefined;
}

export interface ParsedLedger {
  records: Record<string, unknown>[];
  /** Lines that are not records, skipped (each reported, never an error: one bad line must not stop a line). */
  torn: TornLine[];
  /** The first line with content is no ledger record: the file is something else (a manifest, a CSV). */
  notALedger: boolean;
}

/** The records of a ledger's text (starting at byte `offset`, line `firstLine`), and what was skipped. */
export function parseLedgerText(text: string, offset = 0, firstLine = 1): ParsedLedger {
  const lines = text.split("\n");
  const records: Record<string, unknown>[] = [];
  const torn: TornLine[] = [];
  let notALedger = false;
  let at = offset;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? "";
    const start = at;
    at += Buffer.byteLength(line) + 1;
    if (line.trim() === "") continue;
    const record = parseRecord(line);
    if (record) {
      records.push(record);
      continue;
    }
    const glued = recordAfterFragment(line);
    const lineNo = firstLine + i;
    if (glued) {
      torn.push({
        line: lineNo,
        offset: start,
        bytes: Buffer.byteLength(line.slice(0, glued.at)),
        kind: "merged",
      });
      records.push(glued.record);
      continue;
    }
    const last = lines.slice(i + 1).every((l) => l.trim() === "") && !text.endsWith("\n");
    // A crash during the very first append leaves only a fragment: still a ledger.
    const firstContent = records.length === 0 && torn.length === 0 && offset === 0;
    if (firstContent && !(last && line.startsWith(RECORD_START))) notALedger = true;
    torn.push({
      line: lineNo,
      offset: start,
      bytes: Buffer.byteLength(line),
      kind: last ? "trailing" : "unparsable",
    });
  }
  return { records, torn, notALedger };
}

/** A file whose first line is no ledger record is something else: never appended to, never cut. */
export function notALedgerError(file: string): ProvisionError {
  return new ProvisionError("CONFIG", `${file} is not a ledger: its first line is not a ledger record`, {
    where: file,
    hint: "give --ledger the ledger file (JSON lines this tool wrote), or a new path; a station's manifest is <prefix>.manifest.jsonl, never a ledger",
  });
}

/** Refuses a file that is not a ledger before anything is cut off it (a manifest, a CSV given by mistake). */
async function checkIsLedger(h: FileHandle, file: string, size: number): Promise<void> {
  const head = await readAt(h, 0, Math.min(size, TAIL_SEARCH_BYTES));
  const nl = head.indexOf(0x0a);
  const first = head.subarray(0, nl < 0 ? head.length : nl + 1).toString("utf8");
  if (parseLedgerText(first).notALedger) throw notALedgerError(file);
}

async function readAt(h: FileHandle, position: number, length: number): Promise<Buffer> {
  const buf = Buffer.alloc(length);
  const { bytesRead } = await h.read(buf, 0, length, position);
  return buf.subarray(0, bytesRead);
}

/**
 * Where the part of a ledger's tail after its last record starts: a torn
 * last line (no newline), and whole lines that are no records (garbage that
 * ends in a newline would otherwise sit before every later record).
 * Undefined when the tail is clean; "missingNewline" when the last record
 * only lost its newline.
 */
function tailCut(tail: Buffer): number | "missingNewline" | undefined {
  let cut: number | undefined;
  for (const l of splitLines(tail, 0).reverse()) {
    if (parseRecord(l.bytes.toString("utf8"))) break;
    cut = l.offset;
  }
  if (cut !== undefined) return cut;
  return tail.length > 0 && tail[tail.length - 1] !== 0x0a ? "missingNewline" : undefined;
}

/**
 * Makes the ledger end on a line break after its last record: a last record
 * that only lost its newline gets it back; whatever follows the last record
 * (a torn record, garbage lines) is kept in `<file>.torn` (fsynced, each
 * line with its offset) and cut off. Returns the size afterwards.
 */
export async function setAsideTornTail(file: string): Promise<{ tornTail?: TornTail; size: number }> {
  let h: FileHandle;
  try {
    h = await open(file, "r+");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return { size: 0 };
    throw e;
  }
  try {
    const { size } = await h.stat();
    if (size === 0) return { size };
    await checkIsLedger(h, file, size);
    const window = Math.min(size, TAIL_SEARCH_BYTES);
    const tail = await readAt(h, size - window, window);
    if (window < size && tail.indexOf(0x0a) < 0) {
      throw new ProvisionError("CONFIG", `ledger ${file} ends with a line over ${TAIL_SEARCH_BYTES} bytes`, {
        where: file,
        hint: "this is not a ledger the tool wrote; give --ledger the right file",
      });
    }
    // A window that starts mid-line: its first piece is not a whole line.
    const from = window < size ? tail.indexOf(0x0a) + 1 : 0;
    const cut = tailCut(tail.subarray(from));
    if (cut === undefined) return { size };
    if (cut === "missingNewline") {
      await h.write("\n", size);
      await h.sync();
      return { size: size + 1 };
    }
    const start = size - window + from + cut;
    const fragment = tail.subarray(from + cut);
    const keptIn = `${file}.torn`;
    const notes = splitLines(fragment, start).map((l) => tornNote(l.offset, l.bytes));
    await appendDurably(keptIn, notes.map((n) => `${JSON.stringify(n)}\n`).join(""));
    await h.truncate(start);
    await h.sync();
    const torn = notes.length === 1 && fragment[fragment.length - 1] !== 0x0a;
    return {
      tornTail: { offset: start, bytes: fragment.length, keptIn, lines: notes.length, torn },
      size: start,
    };
  } finally {
    await h.close();
  }
}

/** The non-empty lines of a buffer, with their offsets (a last line may lack its newline). */
function splitLines(buf: Buffer, base: number): { offset: number; bytes: Buffer }[] {
  const out: { offset: number; bytes: Buffer }[] = [];
  let start = 0;
  while (start < buf.length) {
    const nl = buf.indexOf(0x0a, start);
    const end = nl < 0 ? buf.length : nl;
    const bytes = buf.subarray(start, end);
    if (bytes.toString("utf8").trim() !== "") out.push({ offset: base + start, bytes });
    start = end + 1;
  }
  return out;
}

/** One line kept in `<ledger>.torn`: where it was, and its bytes (text to read, base64 to restore). */
export function tornNote(offset: number, bytes: Buffer): Record<string, unknown> {
  return {
    ts: new Date().toISOString(),
    offset,
    bytes: bytes.length,
    text: bytes.toString("utf8"),
    base64: bytes.toString("base64"),
  };
}

export async function appendDurably(file: string, text: string): Promise<void> {
  await appendFile(file, text, { mode: 0o640 });
  const h = await open(file, "r");
  try {
    await h.sync();
  } finally {
    await h.close();
  }
}
