import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Ledger, readLedgerContents } from "./ledger.js";
import { parseLedgerText } from "./torn.js";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "ledger-torn-"));
});
afterAll(async () => rm(dir, { recursive: true, force: true }));

const record = (run: string, event = "intent") =>
  JSON.stringify({ v: 1, ts: "2025-01-01T00:00:00.000Z", run, event });
const FRAGMENT = '{"v":1,"ts":"2025-01-01T00:00:01.000Z","run":"r2","ev';

describe("reading a ledger a crash tore", () => {
  it("skips a torn last line and says so", () => {
    const parsed = parseLedgerText(`${record("r1")}\n${FRAGMENT}`);
    expect(parsed.records.map((r) => r.run)).toEqual(["r1"]);
    expect(parsed.torn).toEqual([
      { line: 2, offset: record("r1").length + 1, bytes: FRAGMENT.length, kind: "trailing" },
    ]);
    expect(parsed.notALedger).toBe(false);
  });

  it("recovers a record an older version appended onto the fragment", () => {
    const parsed = parseLedgerText(`${record("r1")}\n${FRAGMENT}${record("r3", "done")}\n${record("r4")}\n`);
    expect(parsed.records.map((r) => r.run)).toEqual(["r1", "r3", "r4"]);
    expect(parsed.torn).toEqual([
      { line: 2, offset: record("r1").length + 1, bytes: FRAGMENT.length, kind: "merged" },
    ]);
  });

  it("skips a line that is no record anywhere (garbage, JSON that is no record) and reports each", () => {
    const text = `${record("r1")}\nnot json\n{"slot":"s1"}\n${record("r2")}\n`;
    const parsed = parseLedgerText(text);
    expect(parsed.records.map((r) => r.run)).toEqual(["r1", "r2"]);
    expect(parsed.torn.map((t) => [t.line, t.kind, t.offset])).toEqual([
      [2, "unparsable", record("r1").length + 1],
      [3, "unparsable", record("r1").length + 10],
    ]);
  });

  it("a file whose first line is no record is not a ledger (a manifest given as --ledger)", () => {
    expect(parseLedgerText('{"slot":"s1","deviceId":"d"}\n').notALedger).toBe(true);
    expect(parseLedgerText("deviceId,thingName\n").notALedger).toBe(true);
    // A crash during the very first append leaves only a fragment: still a ledger.
    expect(parseLedgerText(FRAGMENT).notALedger).toBe(false);
  });
});

describe("opening a ledger a crash tore", () => {
  it("moves the fragment to <ledger>.torn, and the next record starts on its own line", async () => {
    const file = join(dir, "a.jsonl");
    await writeFile(file, `${record("r1")}\n${FRAGMENT}`);
    const ledger = await Ledger.open(file);
    expect(ledger.tornTail).toEqual({
      offset: record("r1").length + 1,
      bytes: FRAGMENT.length,
      keptIn: `${file}.torn`,
      lines: 1,
      torn: true,
    });
    await ledger.append({ run: "r5", event: "intent", op: "CreateThing" });
    await ledger.close();

    const contents = await readLedgerContents(file);
    expect(contents.torn).toEqual([]);
    expect(contents.records.map((r) => r.run)).toEqual(["r1", "r5"]);
    const kept = JSON.parse((await readFile(`${file}.torn`, "utf8")).trim());
    expect(Buffer.from(kept.base64, "base64").toString("utf8")).toBe(FRAGMENT);
    expect(kept.offset).toBe(record("r1").length + 1);
  });

  it("a last record that only lost its newline is kept whole", async () => {
    const file = join(dir, "b.jsonl");
    await writeFile(file, `${record("r1")}\n${record("r2")}`);
    const ledger = await Ledger.open(file);
    expect(ledger.tornTail).toBeUndefined();
    await ledger.append({ run: "r3", event: "intent" });
    await ledger.close();
    expect((await readLedgerContents(file)).records.map((r) => r.run)).toEqual(["r1", "r2", "r3"]);
  });

  it("a whole ledger is left as it is", async () => {
    const file = join(dir, "c.jsonl");
    await writeFile(file, `${record("r1")}\n`);
    const ledger = await Ledger.open(file);
    expect(ledger.tornTail).toBeUndefined();
    expect(ledger.hadRecords).toBe(true);
    await ledger.close();
    expect(await readFile(file, "utf8")).toBe(`${record("r1")}\n`);
  });
});

describe("garbage that ends in a newline (it used to break the ledger for good)", () => {
  it("at the end: set aside like a torn record, each line with its offset; the next record follows the last one", async () => {
    const file = join(dir, "garbage-tail.jsonl");
    await writeFile(file, `${record("r1")}\ngarbage one\n\n{"not":"a record"}\n`);
    const ledger = await Ledger.open(file);
    expect(ledger.tornTail).toMatchObject({ offset: record("r1").length + 1, lines: 2 });
    await ledger.append({ run: "r2", event: "intent" });
    expect((await ledger.summary()).runs.map((r) => r.run)).toEqual(["r1", "r2"]);
    await ledger.close();
    const lines = (await readFile(file, "utf8")).split("\n");
    expect(lines[0]).toBe(record("r1"));
    expect(JSON.parse(lines[1] ?? "").run).toBe("r2");
    expect(lines.slice(2)).toEqual([""]);
    const kept = (await readFile(`${file}.torn`, "utf8"))
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(kept.map((k) => [k.offset, k.text])).toEqual([
      [record("r1").length + 1, "garbage one"],
      [record("r1").length + 14, '{"not":"a record"}'],
    ]);
  });

  it("in the middle (edited in, or appended by another program): every reader skips it, the writer keeps a copy once", async () => {
    const file = join(dir, "garbage-middle.jsonl");
    await writeFile(file, `${record("r1")}\n\x1b[31mgarbage\n${record("r2")}\n`);
    const ledger = await Ledger.open(file);
    expect(ledger.tornTail).toBeUndefined();
    expect((await ledger.summary()).runs.map((r) => r.run)).toEqual(["r1", "r2"]);
    expect(ledger.skippedLines()).toEqual([
      { line: 2, offset: record("r1").length + 1, bytes: 12, kind: "unparsable" },
    ]);
    await ledger.append({ run: "r3", event: "intent" });
    expect((await ledger.summary()).runs.map((r) => r.run)).toEqual(["r1", "r2", "r3"]);
    await ledger.close();
    const again = await Ledger.open(file);
    await again.summary();
    await again.close();
    const kept = (await readFile(`${file}.torn`, "utf8"))
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(kept).toHaveLength(1);
    expect(kept[0]).toMatchObject({ line: 2, kind: "unparsable", text: "\x1b[31mgarbage" });
    expect((await readLedgerContents(file)).records.map((r) => r.run)).toEqual(["r1", "r2", "r3"]);
  });

  it("a file that is no ledger is refused, and nothing is cut off it", async () => {
    const file = join(dir, "manifest.jsonl");
    const text = '{"slot":"s1","deviceId":"0123456789ab"}\n{"slot":"s2"}\n';
    await writeFile(file, text);
    await expect(Ledger.open(file)).rejects.toMatchObject({
      code: "CONFIG",
      message: expect.stringMatching(/is not a ledger: its first line is not a ledger record/),
    });
    await expect(readLedgerContents(file)).rejects.toMatchObject({ code: "CONFIG" });
    expect(await readFile(file, "utf8")).toBe(text);
  });
});
