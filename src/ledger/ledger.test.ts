import { appendFileSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Ledger, ledgerState, readLedger, readLedgerContents, summarize } from "./index.js";

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "ledger-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("Ledger file", () => {
  it("concurrent appends from many pipelines stay whole lines, in call order", async () => {
    const file = join(dir, "concurrent.jsonl");
    const ledger = await Ledger.open(file);
    await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        ledger.append({
          run: `r${i % 7}`,
          event: "intent",
          op: "CreateThing",
          data: { i, pad: "x".repeat(i * 13) },
        }),
      ),
    );
    await ledger.close();
    const lines = readFileSync(file, "utf8").split("\n");
    expect(lines.at(-1)).toBe("");
    const records = lines.slice(0, -1).map((l) => JSON.parse(l));
    expect(records.map((r) => r.data.i)).toEqual(Array.from({ length: 200 }, (_, i) => i));
  });

  it("a torn last line (crash mid-write) is skipped; so is a broken line inside, reported with its line", async () => {
    const file = join(dir, "torn.jsonl");
    const ledger = await Ledger.open(file);
    await ledger.append({ run: "r1", event: "intent", op: "CreateCertificateFromCsr" });
    await ledger.close();
    appendFileSync(file, '{"v":1,"ts":"2026-');
    expect((await readLedger(file)).length).toBe(1);
    appendFileSync(file, '\n{"v":1,"ts":"x","run":"r1","event":"abandoned"}\n');
    const contents = await readLedgerContents(file);
    expect(contents.records.map((r) => r.event)).toEqual(["intent", "abandoned"]);
    expect(contents.torn.map((t) => [t.line, t.kind])).toEqual([[2, "unparsable"]]);
  });

  it("a missing ledger reads as empty; an unwritable path is a CONFIG error", async () => {
    expect(await readLedger(join(dir, "none.jsonl"))).toEqual([]);
    // A directory path under a regular file cannot be created.
    const notADir = join(dir, "torn.jsonl", "sub", "ledger.jsonl");
    await expect(Ledger.open(notADir)).rejects.toMatchObject({ code: "CONFIG" });
  });
});

describe("ledger state", () => {
  const rec = (run: string, event: string, extra: Record<string, unknown> = {}) => ({
    v: 1,
    ts: new Date().toISOString(),
    run,
    device: "dev1",
    thing: "thing-1",
    event,
    ...extra,
  });

  it("follows a device from registering to verified, and a later run takes over", () => {
    const records = [
      rec("a", "intent", { op: "CreateCertificateFromCsr" }),
      rec("a", "done", {
        op: "CreateCertificateFromCsr",
        data: { certificateId: "c1", certificateArn: "arn1" },
      }),
    ] as Parameters<typeof summarize>[0][number][];
    let s = summarize(records);
    expect(s.devices.dev1?.status).toBe("in-progress");
    expect(s.openRuns.map((r) => r.pendingOps)).toEqual([[]]);
    records.push(rec("a", "registered") as never, rec("a", "committed") as never);
    s = summarize(records);
    expect(s.devices.dev1).toMatchObject({
      status: "committed",
      provisioned: true,
      finished: false,
      certificateId: "c1",
    });
    records.push(rec("a", "first-publish") as never);
    expect(summarize(records).devices.dev1?.finished).toBe(true);
    records.push(rec("b", "intent", { op: "CreateCertificateFromCsr" }) as never);
    s = summarize(records);
    expect(s.devices.dev1?.latestRun).toBe("b");
    expect(s.devices.dev1?.openRuns).toEqual(["b"]);
  });

  it("a later run that changed nothing (rolled back, abandoned) does not make a finished device look new", () => {
    const records = [
      rec("a", "done", {
        op: "CreateCertificateFromCsr",
        data: { certificateId: "c1", certificateArn: "arn1" },
      }),
      rec("a", "registered"),
      rec("a", "committed"),
      rec("a", "first-publish"),
      // A forced re-run that failed and was rolled back: the device still holds c1.
      rec("b", "done", {
        op: "CreateCertificateFromCsr",
        data: { certificateId: "c2", certificateArn: "arn2" },
      }),
      rec("b", "rolled-back"),
      rec("c", "abandoned"),
    ] as never;
    expect(summarize(records).devices.dev1).toMatchObject({
      status: "abandoned",
      latestRun: "c",
      provisioned: true,
      finished: true,
      certificateId: "c1",
    });
  });

  it("a registered run whose rollback was interrupted (device refused, then a kill) is open, not registered", () => {
    const s = summarize([
      rec("r", "done", {
        op: "CreateCertificateFromCsr",
        data: { certificateId: "c1", certificateArn: "arn1" },
      }),
      rec("r", "registered"),
      rec("r", "intent", { op: "UpdateCertificate", phase: "rollback", data: { certificateId: "c1" } }),
      rec("r", "done", { op: "UpdateCertificate", phase: "rollback", data: { certificateId: "c1" } }),
      rec("r", "intent", { op: "DetachThingPrincipal", phase: "rollback", data: {} }),
    ] as never);
    expect(s.runs[0]).toMatchObject({ status: "rollback-open", open: true });
    expect(s.openRuns.map((r) => r.run)).toEqual(["r"]);
  });

  it("an unclear CreateCertificateFromCsr keeps the key digest for the search", () => {
    const s = summarize([
      rec("u", "intent", { op: "CreateCertificateFromCsr" }),
      rec("u", "failed", {
        op: "CreateCertificateFromCsr",
        data: { unclear: true, spkiSha256: "ab", since: "2026-01-01T00:00:00Z" },
      }),
    ] as never);
    expect(s.runs[0]?.unclearCertificate).toEqual({ spkiSha256: "ab", since: "2026-01-01T00:00:00Z" });
    expect(s.runs[0]?.open).toBe(true);
  });

  it("a CreateCertificateFromCsr that never answered (kill mid-call) is searched for like an unclear one", () => {
    const intent = rec("k", "intent", {
      op: "CreateCertificateFromCsr",
      phase: "register",
      data: { spkiSha256: "cd", since: "2026-02-02T00:00:00Z" },
    });
    expect(summarize([intent] as never).runs[0]?.unclearCertificate).toEqual({
      spkiSha256: "cd",
      since: "2026-02-02T00:00:00Z",
    });
    // Answered: nothing to search for.
    const done = rec("k", "done", {
      op: "CreateCertificateFromCsr",
      data: { certificateId: "c9", certificateArn: "arn9" },
    });
    expect(summarize([intent, done] as never).runs[0]?.unclearCertificate).toBeUndefined();
  });

  it("ledgerState reads the file", async () => {
    const file = join(dir, "state.jsonl");
    const ledger = await Ledger.open(file);
    await ledger.append({ run: "z", device: "d9", event: "abandoned" });
    await ledger.close();
    expect((await ledgerState(file)).devices.d9?.status).toBe("abandoned");
  });
});
