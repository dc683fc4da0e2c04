import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { BOARDS_DIR_DEFAULT } from "./index.js";
import { boardJsonSchemaText } from "./json-schema.js";
import { BoardSchema } from "./schema.js";

type JsonSchema = {
  type?: string;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  additionalProperties?: boolean;
  items?: JsonSchema;
  enum?: unknown[];
  pattern?: string;
};

/** A small JSON Schema check (required keys, no extra keys, types, enums, patterns): enough to catch drift. */
function jsonSchemaProblems(schema: JsonSchema, value: unknown, path = ""): string[] {
  const out: string[] = [];
  if (schema.enum && !schema.enum.includes(value)) out.push(`${path}: not in enum`);
  if (schema.type === "object") {
    if (typeof value !== "object" || value === null || Array.isArray(value))
      return [`${path}: not an object`];
    const obj = value as Record<string, unknown>;
    for (const k of schema.required ?? []) if (!(k in obj)) out.push(`${path}.${k}: required`);
    for (const [k, v] of Object.entries(obj)) {
      const sub = schema.properties?.[k];
      if (!sub) {
        if (schema.additionalProperties === false) out.push(`${path}.${k}: not allowed`);
      } else out.push(...jsonSchemaProblems(sub, v, `${path}.${k}`));
    }
  } else if (schema.type === "array") {
    if (!Array.isArray(value)) return [`${path}: not an array`];
    value.forEach((v, i) => {
      if (schema.items) out.push(...jsonSchemaProblems(schema.items, v, `${path}[${i}]`));
    });
  } else if (schema.type === "string") {
    if (typeof value !== "string") out.push(`${path}: not a string`);
    else if (schema.pattern && !new RegExp(schema.pattern).test(value)) out.push(`${path}: pattern`);
  } else if (schema.type === "integer" || schema.type === "number") {
    if (typeof value !== "number") out.push(`${path}: not a number`);
  } else if (schema.type === "boolean" && typeof value !== "boolean") out.push(`${path}: not a boolean`);
  return out;
}

const boardFiles = readdirSync(BOARDS_DIR_DEFAULT).filter((n) => n.endsWith(".json") && n !== "schema.json");
const checkedIn = JSON.parse(readFileSync(join(BOARDS_DIR_DEFAULT, "schema.json"), "utf8")) as JsonSchema;

describe("boards/schema.json", () => {
  it("equals the schema generated from src/boards/schema.ts (run scripts/gen-board-schema.ts)", () => {
    expect(readFileSync(join(BOARDS_DIR_DEFAULT, "schema.json"), "utf8")).toBe(boardJsonSchemaText());
  });

  it("requires the keys every board needs", () => {
    expect(checkedIn.required).toEqual(
      expect.arrayContaining([
        "id",
        "name",
        "chip",
        "usb",
        "reset",
        "console",
        "baud",
        "keyStore",
        "keyTypes",
        "wifi",
      ]),
    );
  });

  it.each(boardFiles)("%s validates with zod and with the JSON Schema", (name) => {
    const data = JSON.parse(readFileSync(join(BOARDS_DIR_DEFAULT, name), "utf8"));
    expect(BoardSchema.safeParse(data).error?.issues).toBeUndefined();
    expect(jsonSchemaProblems(checkedIn, data)).toEqual([]);
  });

  it("the JSON Schema check finds a missing required key and an unknown one", () => {
    const data = JSON.parse(readFileSync(join(BOARDS_DIR_DEFAULT, "twin.json"), "utf8"));
    delete data.chip;
    data.colour = "blue";
    expect(jsonSchemaProblems(checkedIn, data)).toEqual([".chip: required", ".colour: not allowed"]);
  });
});
