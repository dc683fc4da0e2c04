/**
 * The append-only provisioning ledger: one JSON record per line, fsync'd
 * before the call it announces is made, so that after a crash, a kill or a
 * power cut the ledger still says which cloud resources may exist. It is the
 * audit trail of a station and the input of `provision cleanup`.
 *
 * Several pipelines of one process share one Ledger (appends are queued so
 * lines never interleave); several processes should use separate files.
 */
import { type FileHandle, mkdir, open, readFile } from "node:fs/promises";
import { dirname } from "node:path";
import { ProvisionError } from "../errors.js";
import { LEDGER_VERSION, type LedgerEntry, type LedgerRecord } from "./records.js";
import type { LedgerSummary } from "./state.js";
import { parseLedgerText, setAsideTornTail, type TornLine, type TornTail } from "./torn.js";
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

  private constructor(file: string, handle: FileHandle, tornTail: TornTail | undefined, hadRecords: boolean) {
    this.file = file;
    this.handle = handle;
    this.tornTail = tornTail;
    this.hadRecords = hadRecords;
    this.view = new LedgerView(file);
  }

  /**
   * Opens (creating if needed) the ledger for appending. A torn last line is
   * set aside first, so the next record starts on a line of its own.
   */
  static async open(file: string): Promise<Ledger> {
    try {
      await mkdir(dirname(file), { recursive: true });
      const { tornTail, size } = await setAsideTornTail(file);
      const handle = await open(file, "a", 0o640);
      return new Ledger(file, handle, tornTail, size > 0);
    } catch (e) {
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
    return this.view.summary();
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
    await this.handle?.close();
    this.handle = undefined;
  }
}

export interface LedgerContents {
  records: LedgerRecord[];
  /** Torn records that were skipped (a crash mid-append), for the reader to mention. */
  torn: TornLine[];
}

/**
 * Reads every record, tolerating what crashes leave: a torn last line, and a
 * torn fragment with a whole record appended right after it (what versions
 * before the torn-tail repair wrote). Any other broken line is an error,
 * because the file was edited.
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
  if (parsed.brokenLine !== undefined) {
    throw new ProvisionError("CONFIG", `ledger ${file} line ${parsed.brokenLine} is not a JSON record`, {
      where: `${file}:${parsed.brokenLine}`,
      hint: "the ledger is append-only; restore it from the station's copy",
    });
  }
  return { records: parsed.records as unknown as LedgerRecord[], torn: parsed.torn };
}

export async function readLedger(file: string): Promise<LedgerRecord[]> {
  return (await readLedgerContents(file)).records;
}
