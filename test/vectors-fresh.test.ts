/**
 * The committed protocol vectors (test/vectors/*.json, read by both the
 * TypeScript and the C suites) are exactly what the generator makes now:
 * nobody edited them by hand, and a generator change was regenerated.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { generateVectors, VECTORS_DIR } from "../scripts/gen-vectors.js";

describe("test/vectors", () => {
  const fresh = generateVectors();
  it("has the three files the generator writes", () => {
    expect(Object.keys(fresh).sort()).toEqual(["chunks.json", "frames.json", "messages.json"]);
  });
  for (const [name, text] of Object.entries(fresh)) {
    it(`${name} equals a fresh generation (npm run gen:vectors)`, () => {
      expect(readFileSync(join(VECTORS_DIR, name), "utf8")).toBe(text);
    });
  }
});
