import { existsSync } from "node:fs";
import { appendFile, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { terminalControls } from "../printable.js";
import { Manifest, type ManifestRow, manifestFiles } from "./manifest.js";
import { mergeManifests, readManifestRows } from "./manifest-merge.js";

let dir: string;

const row = (
  deviceId: string,
  stationId: string,
  time: string,
  certificateId = `cert-${deviceId}`,
): ManifestRow => ({
  deviceId,
  thingName: `twin-${deviceId}`,
  certificateId,
  board: "twin",
  firmware: "1.0.0",
  stationId,
  time,
  result: "provisioned",
  port: "/dev/pts/1",
  slot: "A1",
});

async function manifest(prefix: string, rows: ManifestRow[]): Promise<void> {
  const m = await Manifest.open(join(dir, prefix));
  for (const r of rows) await m.add(r);
  await m.close();
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "manifest-merge-"));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("mergeManifests", () => {
  it("lists every device and certificate once, in time order, and adds nothing on a second merge", async () => {
    await manifest("a", [row("d1", "a", "2026-01-01T10:00:02Z"), row("d3", "a", "2026-01-01T10:00:00Z")]);
    await manifest("b", [
      row("d2", "b", "2026-01-01T10:00:01Z"),
      row("d3", "a", "2026-01-01T10:00:00Z"),
      row("d3", "b", "2026-01-01T11:00:00Z", "cert-d3-rotated"),
    ]);
    // A crash mid-write leaves a torn last line: left out, said so.
    await appendFile(join(dir, "b.manifest.jsonl"), '{"deviceId":"d9","thi');
    const report = await mergeManifests([join(dir, "a"), join(dir, "b.manifest.jsonl")], join(dir, "line"));
    expect(report.written).toBe(4);
    expect(report.duplicates).toBe(1);
    expect(report.inputs.map((i) => [i.rows, i.tornLastLine])).toEqual([
      [2, false],
      [3, true],
    ]);
    const again = await mergeManifests([join(dir, "a"), join(dir, "b")], join(dir, "line"));
    expect([again.written, again.duplicates]).toEqual([0, 5]);
    const merged = (await readManifestRows(join(dir, "line.manifest.jsonl"))).rows;
    expect(merged.map((r) => `${r.deviceId}/${r.certificateId}`)).toEqual([
      "d3/cert-d3",
      "d2/cert-d2",
      "d1/cert-d1",
      "d3/cert-d3-rotated",
    ]);
  });

  it("refuses a bad line (naming file and line), a missing input, and an output that is also an input", async () => {
    await writeFile(
      join(dir, "bad.jsonl"),
      `${JSON.stringify(row("d1", "x", "t"))}\nnot json\n${JSON.stringify(row("d2", "x", "t"))}\n`,
    );
    await expect(mergeManifests([join(dir, "bad")], join(dir, "out1"))).rejects.toThrow(
      /bad\.jsonl:2 is not a manifest row/,
    );
    await expect(mergeManifests([join(dir, "missing")], join(dir, "out2"))).rejects.toMatchObject({
      code: "CONFIG",
    });
    await expect(mergeManifests([join(dir, "a")], join(dir, "a"))).rejects.toMatchObject({ code: "USAGE" });
  });

  it("refuses, writing nothing, one certificate listed for two devices, naming both and where they come from", async () => {
    await manifest("c1", [row("d1", "c1", "2026-01-01T10:00:00Z", "cert-x")]);
    await manifest("c2", [row("d2", "c2", "2026-01-01T10:00:01Z", "cert-x")]);
    const err = await mergeManifests([join(dir, "c1"), join(dir, "c2")], join(dir, "c-out")).catch((e) => e);
    expect(err).toMatchObject({ code: "CONFIG" });
    expect(err.message).toMatch(
      /certificate cert-x is listed for d1 \(.*c1\.manifest\.jsonl\) and d2 \(.*c2\.manifest\.jsonl\)/,
    );
    expect(existsSync(join(dir, "c-out.manifest.jsonl"))).toBe(false);
  });

  it("escape sequences from a device reach neither the CSV nor the JSONL raw", async () => {
    const hostile = {
      ...row("d5", "e", "2026-01-01T10:00:00Z"),
      board: "\x1b]0;owned\x07twin",
      firmware: "1\u009b2",
    };
    await manifest("esc", [hostile]);
    await mergeManifests([join(dir, "esc")], join(dir, "esc-out"));
    for (const f of ["esc.manifest.csv", "esc-out.manifest.csv", "esc-out.manifest.jsonl"]) {
      const text = await readFile(join(dir, f), "utf8");
      expect(terminalControls(text.replace(/\r?\n/g, " ")), f).toEqual([]);
    }
    expect(await readFile(join(dir, "esc-out.manifest.csv"), "utf8")).toContain("\\x1b]0;owned\\x07twin");
    expect((await readManifestRows(join(dir, "esc-out.manifest.jsonl"))).rows[0]?.board).toBe(hostile.board);
  });

  it("names its files <prefix>.manifest.*, so a ledger named after the line is never one of them", () => {
    expect(manifestFiles("line3")).toEqual({
      csvFile: "line3.manifest.csv",
      jsonlFile: "line3.manifest.jsonl",
    });
    expect(manifestFiles("provision-manifest").jsonlFile).toBe("provision-manifest.jsonl");
    expect(manifestFiles("line3.jsonl").csvFile).toBe("line3.manifest.csv");
  });
});
