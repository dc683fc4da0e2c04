/**
 * What a crash mid-append leaves at the end of a ledger: a torn last line.
 * The next process must not append onto it (that glues the fragment to its
 * first record and readers then refuse the whole ledger), and an audit log
 * must not lose it either: Ledger.open moves it to `<ledger>.torn` and cuts
 * the ledger back to its last whole line; readers skip such fragments and
 * say so.
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
}

export interface TornLine {
  /** 1-based line number in the file. */
  line: number;
  /** Bytes of the torn fragment. */
  bytes: number;
  /** trailing: the last line; merged: a fragment with a whole record appended right after it. */
  kind: "trailing" | "merged";
}

function parseRecord(text: string): Record<string, unknown> | undefined {
  try {
    const v = JSON.parse(text) as unknown;
    return typeof v === "object" && v !== null && !Array.isArray(v)
      ? (v as Record<string, unknown>)
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

/** The records of a ledger's text, the torn fragments skipped, and the first line that is neither. */
export function parseLedgerText(text: string): {
  records: Record<string, unknown>[];
  torn: TornLine[];
  brokenLine?: number;
} {
  const lines = text.split("\n");
  const records: Record<string, unknown>[] = [];
  const torn: TornLine[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? "";
    if (line.trim() === "") continue;
    const record = parseRecord(line);
    if (record) {
      records.push(record);
      continue;
    }
    const glued = recordAfterFragment(line);
    if (glued) {
      torn.push({ line: i + 1, bytes: Buffer.byteLength(line.slice(0, glued.at)), kind: "merged" });
      records.push(glued.record);
      continue;
    }
    if (lines.slice(i + 1).every((l) => l.trim() === "")) {
      torn.push({ line: i + 1, bytes: Buffer.byteLength(line), kind: "trailing" });
      break;
    }
    return { records, torn, brokenLine: i + 1 };
  }
  return { records, torn };
}

async function readAt(h: FileHandle, position: number, length: number): Promise<Buffer> {
  const buf = Buffer.alloc(length);
  const { bytesRead } = await h.read(buf, 0, length, position);
  return buf.subarray(0, bytesRead);
}

/**
 * Makes the ledger end on a line break: a last line that is a whole record
 * only lost its newline (gets it back); anything else is a torn record, kept
 * in `<file>.torn` (fsynced) and cut off. Returns the size afterwards.
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
    if (size === 0 || (await readAt(h, size - 1, 1))[0] === 0x0a) return { size };
    const window = Math.min(size, TAIL_SEARCH_BYTES);
    const tail = await readAt(h, size - window, window);
    const nl = tail.lastIndexOf(0x0a);
    if (nl < 0 && window < size) {
      throw new ProvisionError("CONFIG", `ledger ${file} ends with a line over ${TAIL_SEARCH_BYTES} bytes`, {
        where: file,
        hint: "this is not a ledger the tool wrote; give --ledger the right file",
      });
    }
    const start = size - window + nl + 1;
    const fragment = tail.subarray(nl + 1);
    if (parseRecord(fragment.toString("utf8"))) {
      await h.write("\n", size);
      await h.sync();
      return { size: size + 1 };
    }
    const keptIn = `${file}.torn`;
    const note = {
      ts: new Date().toISOString(),
      offset: start,
      bytes: fragment.length,
      text: fragment.toString("utf8"),
      base64: fragment.toString("base64"),
    };
    await appendDurably(keptIn, `${JSON.stringify(note)}\n`);
    await h.truncate(start);
    await h.sync();
    return { tornTail: { offset: start, bytes: fragment.length, keptIn }, size: start };
  } finally {
    await h.close();
  }
}

async function appendDurably(file: string, text: string): Promise<void> {
  await appendFile(file, text, { mode: 0o640 });
  const h = await open(file, "r");
  try {
    await h.sync();
  } finally {
    await h.close();
  }
}
