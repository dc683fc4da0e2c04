/**
 * The ledger as its readers need it, kept current cheaply: a station asks
 * "what do earlier runs say about this key, this device" for every device,
 * and a shift's ledger grows by thousands of records an hour. The view reads
 * only what was appended since it last looked (by this process or another),
 * and folds it into the runs it already knows.
 */
import { open } from "node:fs/promises";
import type { LedgerRecord } from "./records.js";
import { type LedgerSummary, RunFold, summarizeRuns } from "./state.js";
import { notALedgerError, parseLedgerText, type TornLine } from "./torn.js";

export class LedgerView {
  private offset = 0;
  private lineNumber = 0;
  private readonly folds = new Map<string, RunFold>();
  /** Lines skipped so far: torn records (a crash mid-append by some process), lines that are no record. */
  readonly torn: TornLine[] = [];

  constructor(readonly file: string) {}

  private reading: Promise<void> = Promise.resolve();

  /** The summary of every record on disk now. */
  async summary(): Promise<LedgerSummary> {
    // One reader at a time: two catching up from the same offset would fold records twice.
    const read = this.reading.then(() => this.catchUp());
    this.reading = read.catch(() => undefined);
    await read;
    return summarizeRuns([...this.folds.values()].map((f) => f.state()));
  }

  private async catchUp(): Promise<void> {
    let h: Awaited<ReturnType<typeof open>>;
    try {
      h = await open(this.file, "r");
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return;
      throw e;
    }
    let text: Buffer;
    try {
      const { size } = await h.stat();
      if (size <= this.offset) return;
      text = Buffer.alloc(size - this.offset);
      const { bytesRead } = await h.read(text, 0, text.length, this.offset);
      text = text.subarray(0, bytesRead);
    } finally {
      await h.close();
    }
    // Only whole lines: a record still being written (or torn) is read when its line is complete.
    const end = text.lastIndexOf(0x0a) + 1;
    if (end === 0) return;
    const chunk = text.subarray(0, end).toString("utf8");
    const parsed = parseLedgerText(chunk, this.offset, this.lineNumber + 1);
    if (parsed.notALedger) throw notALedgerError(this.file);
    // A line that is no record (edited in, or written by another program) is skipped and reported, never
    // fatal: one bad line must not stop a factory line (Ledger.open sets such a tail aside).
    this.torn.push(...parsed.torn);
    for (const r of parsed.records as unknown as LedgerRecord[]) {
      let fold = this.folds.get(r.run);
      if (!fold) {
        fold = new RunFold(r);
        this.folds.set(r.run, fold);
      }
      fold.apply(r);
    }
    this.offset += end;
    this.lineNumber += chunk.split("\n").length - 1;
  }
}
