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
    expect(parsed.torn).toEqual([{ line: 2, bytes: FRAGMENT.length, kind: "trailing" }]);
    expect(parsed.brokenLine).toBeUndefined();
  });

  it("recovers a record an older version appended onto the fragment", () => {
    const parsed = parseLedgerText(`${record("r1")}\n${FRAGMENT}${record("r3", "done")}\n${record("r4")}\n`);
    expect(parsed.records.map((r) => r.run)).toEqual(["r1", "r3", "r4"]);
    expect(parsed.torn).toEqual([{ line: 2, bytes: FRAGMENT.length, kind: "merged" }]);
  });

  it("still refuses a broken line in the middle (an edited ledger)", () => {
    expect(parseLedgerText(`${record("r1")}\nnot json\n${record("r2")}\n`).brokenLine).toBe(2);
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
