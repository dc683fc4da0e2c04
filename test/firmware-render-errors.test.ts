/**
 * `provision firmware render --out X` where X cannot be written is the
 * user's path, not a bug: a ProvisionError naming the path (not INTERNAL,
 * which the CLI reports as "please report this bug" with a stack trace).
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isProvisionError } from "../src/errors.js";
import { renderFirmware } from "../src/firmware/render.js";

let dir: string;
let file: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "render-errors-"));
  file = join(dir, "not-a-dir");
  writeFileSync(file, "x");
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function errorOf(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  throw new Error("expected an error");
}

describe("renderFirmware output errors", () => {
  it("--out naming an existing file is a usage error naming it", () => {
    const e = errorOf(() => renderFirmware({ boardId: "esp32-devkitc", outDir: file }));
    expect(isProvisionError(e, "USAGE")).toBe(true);
    expect((e as { where?: string }).where).toBe(file);
  });

  it("--out below a file (ENOTDIR while writing) is a configuration error naming the file", () => {
    const e = errorOf(() => renderFirmware({ boardId: "esp32-devkitc", outDir: join(file, "fw") }));
    expect(isProvisionError(e, "CONFIG")).toBe(true);
    expect((e as Error).message).toMatch(/cannot write the rendered project/);
    expect((e as { where?: string }).where).toContain(join(file, "fw"));
  });
});
