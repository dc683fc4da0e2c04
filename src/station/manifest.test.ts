import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { csvField, Manifest, type ManifestRow } from "./manifest.js";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "manifest-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const row = (deviceId: string, certificateId: string, extra: Partial<ManifestRow> = {}): ManifestRow => ({
  deviceId,
  thingName: `esp32-${deviceId}`,
  certificateId,
  board: "esp32-devkitc",
  firmware: "1.0.0",
  stationId: "line-1",
  time: "2026-11-27T08:00:00.000Z",
  result: "provisioned",
  port: "/dev/ttyUSB0",
  slot: "A1",
  ...extra,
});

describe("manifest", () => {
  it("quotes CSV fields holding commas, quotes and line breaks (RFC 4180)", () => {
    expect(csvField("plain")).toBe("plain");
    expect(csvField("a,b")).toBe('"a,b"');
    expect(csvField('say "hi"')).toBe('"say ""hi"""');
    // Device text is shown escaped: a line break or an escape sequence never reaches the file raw.
    expect(csvField("two\nlines")).toBe("two\\nlines");
    expect(csvField("\x1b[2J")).toBe("\\x1b[2J");
  });

  it("writes each device+certificate once, also across a reopen (resume)", async () => {
    const prefix = join(dir, "m");
    const first = await Manifest.open(prefix);
    expect(await first.add(row("aaaaaaaaaaaa", "c1"))).toBe(true);
    expect(await first.add(row("aaaaaaaaaaaa", "c1"))).toBe(false);
    expect(await first.add(row("bbbbbbbbbbbb", "c2", { firmware: "1.0.0, beta" }))).toBe(true);
    await first.close();

    const second = await Manifest.open(prefix);
    expect(second.has("aaaaaaaaaaaa", "c1")).toBe(true);
    expect(await second.add(row("aaaaaaaaaaaa", "c1"))).toBe(false);
    // A rotation (new certificate) is a new row.
    expect(await second.add(row("aaaaaaaaaaaa", "c3", { result: "rotated" }))).toBe(true);
    await second.close();

    const jsonl = (await readFile(`${prefix}.manifest.jsonl`, "utf8")).trim().split("\n");
    expect(jsonl.map((l) => (JSON.parse(l) as ManifestRow).certificateId)).toEqual(["c1", "c2", "c3"]);
    const csv = (await readFile(`${prefix}.manifest.csv`, "utf8")).split("\r\n").filter((l) => l !== "");
    expect(csv).toHaveLength(4); // one header, written once
    expect(csv[0]?.startsWith("deviceId,thingName,certificateId")).toBe(true);
    expect(csv[2]).toContain('"1.0.0, beta"');
  });
});
