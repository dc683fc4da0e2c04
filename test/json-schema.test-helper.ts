/** The documented `--json` shape (docs/json-output.schema.json), for tests that check real output against it. */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { Ajv2020 } from "ajv/dist/2020.js";
import { expect } from "vitest";

const validate = new Ajv2020({ allErrors: true, strict: false }).compile(
  JSON.parse(readFileSync(resolve("docs/json-output.schema.json"), "utf8")),
);

/** Fails the test, naming the schema errors, when `value` is not one documented object. */
export function expectDocumented(value: unknown): void {
  expect(validate(value), `${JSON.stringify(validate.errors, null, 1)}\n${JSON.stringify(value)}`).toBe(true);
}
