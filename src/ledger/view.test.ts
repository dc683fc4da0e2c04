import { appendFile, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Ledger, readLedger } from "./ledger.js";
import { summarize } from "./state.js";
import { LedgerView } from "./view.js";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "ledger-view-"));
});
afterAll(async () => rm(dir, { recursive: true, force: true }));

describe("LedgerView", () => {
  it("sees what any process appended since it last looked, and agrees with a full read", async () => {
    const file = join(dir, "a.jsonl");
    const mine = await Ledger.open(file);
    const other = await Ledger.open(file);
    await mine.append({
      run: "r1",
      device: "d1",
      event: "intent",
      phase: "register",
      op: "CreateCertificateFromCsr",
      data: { spkiSha256: "k1" },
    });
    expect((await mine.summary()).openRuns.map((r) => r.run)).toEqual(["r1"]);
    await other.append({
      run: "r1",
      device: "d1",
      event: "done",
      phase: "register",
      op: "CreateCertificateFromCsr",
      data: { certificateId: "c1", certificateArn: "arn:aws:iot:r:1:cert/c1" },
    });
    await other.append({ run: "r1", device: "d1", event: "registered" });
    await other.append({
      run: "r2",
      device: "d1",
      event: "adopted",
      data: { certificateId: "c1", fromRun: "r1", spkiSha256: "k1" },
    });
    const seen = await mine.summary();
    expect(seen.runs.map((r) => [r.run, r.status])).toEqual([
      ["r1", "superseded"],
      ["r2", "in-progress"],
    ]);
    expect(seen).toEqual(summarize(await readLedger(file)));
    await mine.close();
    await other.close();
  });

  it("leaves a line still being written for the next look", async () => {
    const file = join(dir, "b.jsonl");
    const view = new LedgerView(file);
    const record = JSON.stringify({
      v: 1,
      ts: "2025-01-01T00:00:00.000Z",
      run: "r1",
      event: "intent",
      op: "X",
    });
    await appendFile(file, record.slice(0, 20));
    expect((await view.summary()).runs).toEqual([]);
    await appendFile(file, `${record.slice(20)}\n`);
    expect((await view.summary()).runs.map((r) => r.run)).toEqual(["r1"]);
  });
});

describe("LedgerView under concurrent readers", () => {
  it("many summaries at once while many pipelines append fold every record exactly once", async () => {
    const file = join(dir, "c.jsonl");
    const ledger = await Ledger.open(file);
    const work: Promise<unknown>[] = [];
    for (let i = 0; i < 40; i++) {
      work.push(ledger.append({ run: `r${i}`, event: "intent", phase: "register", op: "CreateThing" }));
      work.push(ledger.summary());
      work.push(
        ledger.append({
          run: `r${i}`,
          event: "done",
          phase: "register",
          op: "CreateThing",
          data: { created: true },
        }),
      );
    }
    await Promise.all(work);
    const summary = await ledger.summary();
    expect(summary.runs).toHaveLength(40);
    expect(summary.runs.every((r) => r.pendingOps.length === 0 && r.thingCreated === true)).toBe(true);
    expect(summary).toEqual(summarize(await readLedger(file)));
    await ledger.close();
  });
});

describe("LedgerView, asked many times at once", () => {
  it("folds each record once and keeps its place in the file", async () => {
    const file = join(dir, "d.jsonl");
    const ledger = await Ledger.open(file);
    for (let i = 0; i < 20; i++)
      await ledger.append({ run: `r${i}`, event: "intent", phase: "register", op: "CreateThing" });
    const view = new LedgerView(file);
    const all = await Promise.all(Array.from({ length: 10 }, () => view.summary()));
    for (const s of all) expect(s.runs.every((r) => r.pendingOps.join() === "CreateThing")).toBe(true);
    await ledger.append({ run: "r20", event: "intent", phase: "register", op: "CreateThing" });
    expect(await view.summary()).toEqual(summarize(await readLedger(file)));
    await ledger.close();
  });
});
