import { appendFile, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Manifest, type ManifestRow } from "./manifest.js";
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
    await appendFile(join(dir, "b.jsonl"), '{"deviceId":"d9","thi');
    const report = await mergeManifests([join(dir, "a"), join(dir, "b.jsonl")], join(dir, "line"));
    expect(report.written).toBe(4);
    expect(report.duplicates).toBe(1);
    expect(report.inputs.map((i) => [i.rows, i.tornLastLine])).toEqual([
      [2, false],
      [3, true],
    ]);
    const again = await mergeManifests([join(dir, "a"), join(dir, "b")], join(dir, "line"));
    expect([again.written, again.duplicates]).toEqual([0, 5]);
    const merged = (await readManifestRows(join(dir, "line.jsonl"))).rows;
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
});
