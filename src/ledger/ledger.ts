/**
 * The append-only provisioning ledger: one JSON record per line, fsync'd
 * before the call it announces is made, so that after a crash, a kill or a
 * power cut the ledger still says which cloud resources may exist. It is the
 * audit trail of a station and the input of `provision cleanup`.
 *
 * Several pipelines of one process share one Ledger (appends are queued so
 * lines never interleave); one process at a time writes a ledger (lock.ts).
 */
import { type FileHandle, mkdir, open, readFile } from "node:fs/promises";
import { dirname } from "node:path";
import { ProvisionError } from "../errors.js";
import { type LedgerLock, type LockOptions, lockLedger } from "./lock.js";
import { LEDGER_VERSION, type LedgerEntry, type LedgerRecord } from "./records.js";
import type { LedgerSummary } from "./state.js";
import {
  appendDurably,
  notALedgerError,
  parseLedgerText,
  setAsideTornTail,
  type TornLine,
  type TornTail,
  tornNote,
} from "./torn.js";
import { LedgerView } from "./view.js";

export class Ledger {
  readonly file: string;
  /** A torn last record found at open (a crash mid-append), moved aside; undefined when the file was whole. */
  readonly tornTail: TornTail | undefined;
  /** The file held records before this process opened it (false: new or empty, e.g. a lost ledger). */
  readonly hadRecords: boolean;
  private handle: FileHandle | undefined;
  private queue: Promise<void> = Promise.resolve();
  // Records this process wrote (on disk), by run: an in-process rollback reads them instead of the file.
  private readonly byRun = new Map<string, LedgerRecord[]>();
  private readonly view: LedgerView;
  // Skipped lines already kept in <ledger>.torn: how many of the view's, and their offsets there.
  private keptSkipped = 0;
  private keptOffsets: Set<number> | undefined;

  private constructor(
    file: string,
    handle: FileHandle,
    tornTail: TornTail | undefined,
    hadRecords: boolean,
    private readonly lock: LedgerLock,
  ) {
    this.file = file;
    this.handle = handle;
    this.tornTail = tornTail;
    this.hadRecords = hadRecords;
    this.view = new LedgerView(file);
  }

  /**
   * Opens (creating if needed) the ledger for appending, as its one writer:
   * the ledger's lock is taken first (lock.ts: waiting for a live holder, or
   * refusing naming it). Whatever follows the last record (a torn line,
   * garbage) is set aside, so the next record starts on a line of its own.
   */
  static async open(file: string, options: LockOptions = {}): Promise<Ledger> {
    let lock: LedgerLock | undefined;
    try {
      await mkdir(dirname(file), { recursive: true });
      lock = await lockLedger(file, options);
      const { tornTail, size } = await setAsideTornTail(file);
      const handle = await open(file, "a", 0o640);
      return new Ledger(file, handle, tornTail, size > 0, lock);
    } catch (e) {
      await lock?.release();
      if (e instanceof ProvisionError) throw e;
      throw new ProvisionError("CONFIG", `cannot open the ledger ${file}: ${(e as Error).message}`, {
        where: file,
        hint: "give --ledger a writable path",
        cause: e,
      });
    }
  }

  /** Appends one record and returns once it is on disk (write + fsync). */
  append(entry: LedgerEntry): Promise<LedgerRecord> {
    const record: LedgerRecord = { v: LEDGER_VERSION, ts: new Date().toISOString(), ...entry };
    const line = `${JSON.stringify(record)}\n`;
    const write = async () => {
      const h = this.handle;
      if (h === undefined)
        throw new ProvisionError("INTERNAL", `ledger ${this.file} is closed`, { where: this.file });
      try {
        await h.write(line);
        await h.sync();
        // Only what is on disk: an in-process rollback must judge the run as cleanup would later.
        const mine = this.byRun.get(record.run) ?? [];
        mine.push(record);
        this.byRun.set(record.run, mine);
      } catch (e) {
        // Without the record the tool could leak a certificate it cannot find again: stop here.
        throw new ProvisionError("CONFIG", `cannot write the ledger ${this.file}: ${(e as Error).message}`, {
          where: this.file,
          hint: "free disk space or fix the ledger path; then run `provision cleanup --ledger FILE`",
          cause: e,
        });
      }
      return record;
    };
    const result = this.queue.then(write);
    this.queue = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }

  /**
   * Every run of the file as it is now (this process's appends included, and
   * other processes'), read incrementally: cheap to ask per device.
   */
  async summary(): Promise<LedgerSummary> {
    await this.idle();
    const summary = await this.view.summary();
    await this.keepSkippedLines();
    return summary;
  }

  /** Lines the reading skipped so far (torn records, lines that are no record), file order. */
  skippedLines(): TornLine[] {
    return [...this.view.torn];
  }

  /**
   * A line that is no record, met in the middle of the ledger (edited in, or
   * appended by another program while this one ran), is kept in
   * `<ledger>.torn` too, once, with its offset: the ledger file itself is
   * never rewritten.
   */
  private async keepSkippedLines(): Promise<void> {
    const fresh = this.view.torn.slice(this.keptSkipped);
    if (fresh.length === 0) return;
    this.keptSkipped += fresh.length;
    const keptIn = `${this.file}.torn`;
    this.keptOffsets ??= new Set(
      (await readFile(keptIn, "utf8").catch(() => "")).split("\n").flatMap((l) => {
        try {
          return [Number((JSON.parse(l) as { offset?: unknown }).offset)];
        } catch {
          return [];
        }
      }),
    );
    const notes: string[] = [];
    for (const t of fresh) {
      if (this.keptOffsets.has(t.offset)) continue;
      this.keptOffsets.add(t.offset);
      const h = await open(this.file, "r");
      try {
        const bytes = Buffer.alloc(t.bytes);
        await h.read(bytes, 0, t.bytes, t.offset);
        notes.push(`${JSON.stringify({ ...tornNote(t.offset, bytes), line: t.line, kind: t.kind })}\n`);
      } finally {
        await h.close();
      }
    }
    if (notes.length > 0) await appendDurably(keptIn, notes.join(""));
  }

  /** Resolves once every append started so far is on disk (or has failed). */
  async idle(): Promise<void> {
    await this.queue;
  }

  /** The records this process appended for one run, in order. */
  recordsOf(run: string): LedgerRecord[] {
    return [...(this.byRun.get(run) ?? [])];
  }

  async close(): Promise<void> {
    await this.queue;
    const h = this.handle;
    this.handle = undefined;
    await h?.close();
    if (h) await this.lock.release();
  }
}

export interface LedgerContents {
  records: LedgerRecord[];
  /** Lines that were skipped: torn records (a crash mid-append), lines that are no record. */
  torn: TornLine[];
}

/**
 * Reads every record, skipping (and listing) what is no record: a torn last
 * line, a torn fragment with a whole record appended right after it (what
 * versions before the torn-tail repair wrote), a line edited in. A file
 * whose first line is no record is refused: it is something else.
 */
export async function readLedgerContents(file: string): Promise<LedgerContents> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return { records: [], torn: [] };
    throw new ProvisionError("CONFIG", `cannot read the ledger ${file}: ${(e as Error).message}`, {
      where: file,
    });
  }
  const parsed = parseLedgerText(text);
  if (parsed.notALedger) throw notALedgerError(file);
  return { records: parsed.records as unknown as LedgerRecord[], torn: parsed.torn };
}

export async function readLedger(file: string): Promise<LedgerRecord[]> {
  return (await readLedgerContents(file)).records;
}
