/**
 * The documented `--json` shape (docs/json-output.md): real outputs of the
 * real CLI (`provision`, `verify`, `station`, `cleanup`, successes and
 * failures) validate against docs/json-output.schema.json, and the schema's
 * error codes and the README's exit-code table are the ones the code has.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { Ajv2020 } from "ajv/dist/2020.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EXIT_CODES } from "../src/cli/exit-codes.js";
import { ERROR_CODES } from "../src/errors.js";
import { ensureTwinBuilt, startTwin, type Twin } from "../src/twin/index.js";
import { fixedMqttPort, localArgs, runCli } from "./cli.test-helper.js";

const schema = JSON.parse(readFileSync(resolve("docs/json-output.schema.json"), "utf8"));
const validate = new Ajv2020({ allErrors: true, strict: false }).compile(schema);

/** Every stdout line parsed and checked against the schema; returns them. */
function validLines(stdout: string): Record<string, unknown>[] {
  const lines = stdout
    .trim()
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  for (const line of lines) {
    const ok = validate(line);
    expect(ok, `${JSON.stringify(validate.errors, null, 1)}\n${JSON.stringify(line)}`).toBe(true);
  }
  return lines;
}

let dir: string;
const cli = (args: string[], env: NodeJS.ProcessEnv = {}) =>
  runCli(args, { cwd: dir, env, inheritEnv: true, timeoutMs: 90_000 });

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "provision-json-output-"));
  await ensureTwinBuilt();
}, 120_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("--json output against docs/json-output.schema.json", () => {
  const twins: Twin[] = [];
  afterAll(async () => Promise.all(twins.map((t) => t.stop())));
  const twin = async (name: string) => {
    const t = await startTwin({ stateDir: join(dir, name) });
    twins.push(t);
    return t;
  };

  it("provision, verify, cleanup: the results; a refused port: the failure", async () => {
    const t = await twin("twin-a");
    const local = localArgs(join(dir, "iot-a"), fixedMqttPort());
    const ledger = ["--ledger", join(dir, "a.jsonl")];
    const provisioned = await cli(["--port", t.port, ...local, ...ledger, "--json"]);
    expect(provisioned.status, provisioned.stderr).toBe(0);
    const [p] = validLines(provisioned.stdout);
    expect(p).toMatchObject({ command: "provision", ok: true, outcome: "provisioned", mode: "provisioned" });

    const verified = await cli(["verify", "--port", t.port, ...local, "--json"]);
    expect(verified.status, verified.stderr).toBe(0);
    expect(validLines(verified.stdout)[0]).toMatchObject({
      command: "verify",
      ok: true,
      outcome: "verified",
    });

    const cleaned = await cli(["cleanup", ...ledger, ...local, "--json"]);
    expect(cleaned.status, cleaned.stderr).toBe(0);
    expect(validLines(cleaned.stdout)[0]).toMatchObject({ command: "cleanup", ok: true, outcome: "cleaned" });

    const things = await cli([
      "cleanup",
      "--things",
      "twin-",
      ...local,
      "--ledger",
      join(dir, "t.jsonl"),
      "--json",
    ]);
    expect(things.status, things.stderr).toBe(0);
    expect(validLines(things.stdout)[0]).toMatchObject({ command: "cleanup", ok: true, thingsExamined: 1 });

    const missing = await cli(["--port", join(dir, "no-such-port"), ...local, ...ledger, "--json"]);
    expect(missing.status).toBe(EXIT_CODES.PORT_NOT_FOUND);
    expect(validLines(missing.stdout)).toEqual([
      expect.objectContaining({
        command: "provision",
        ok: false,
        outcome: "PORT_NOT_FOUND",
        error: expect.objectContaining({ code: "PORT_NOT_FOUND", rolledBack: false }),
      }),
    ]);
  }, 180_000);

  it("a failure after the certificate exists says rolledBack: provision and a station's device line", async () => {
    const failAttach = {
      PROVISION_LOCAL_IOT_FAULTS: JSON.stringify({ operations: { AttachPolicy: { serverErrorRate: 1 } } }),
    };
    const t = await twin("twin-b");
    const local = localArgs(join(dir, "iot-b"));
    const failed = await cli(
      ["--port", t.port, ...local, "--ledger", join(dir, "b.jsonl"), "--json"],
      failAttach,
    );
    expect(failed.status, failed.stderr).toBe(EXIT_CODES.CLOUD_FAILED);
    expect(validLines(failed.stdout)[0]).toMatchObject({
      command: "provision",
      ok: false,
      error: { code: "CLOUD_FAILED", rolledBack: true },
    });

    const s = await twin("twin-c");
    const station = await cli(
      ["station", s.port, ...local, "--ledger", join(dir, "c.jsonl"), "--manifest", join(dir, "c"), "--json"],
      failAttach,
    );
    expect(station.status, station.stderr).toBe(EXIT_CODES.CLOUD_FAILED);
    const [device, run] = validLines(station.stdout);
    expect(device).toMatchObject({
      command: "station",
      ok: false,
      outcome: "CLOUD_FAILED",
      rollback: "rolled-back",
      error: { code: "CLOUD_FAILED", rolledBack: true },
    });
    expect(device?.timingsMs).toEqual(device?.timings);
    expect(run).toMatchObject({ command: "station", ok: false, outcome: "CLOUD_FAILED" });

    const ok = await cli([
      "station",
      s.port,
      ...local,
      "--ledger",
      join(dir, "c.jsonl"),
      "--manifest",
      join(dir, "c"),
      "--json",
    ]);
    expect(ok.status, ok.stderr).toBe(0);
    expect(validLines(ok.stdout)).toEqual([
      expect.objectContaining({ command: "station", ok: true, outcome: "provisioned" }),
    ]);
  }, 240_000);
});

describe("usage errors under --json (commander's own included)", () => {
  it.each([
    [["--no-such-flag", "--json"], "provision", /unknown option '--no-such-flag'/],
    [["--baud", "abc", "--json"], "provision", /argument 'abc' is invalid/],
    [["--interval", "1e4", "--json"], "provision", /whole number of ms \(digits only\), 1000 to 3600000/],
    [["firmware", "render", "--json"], "firmware render", /required option '--board <id>' not specified/],
    [["cleanup", "--json"], "cleanup", /cleanup needs --ledger FILE, or --things PREFIX/],
    [["station", "--quota", "Bogus=5", "--json"], "station", /Bogus is not an AWS IoT operation/],
    [["--local-ports", "1,2", "--json"], "provision", /--local-ports 1,2: expected three ports/],
  ])(
    "%j: one object on stdout (the schema's), a short line on stderr, exit 2",
    async (args, command, message) => {
      const r = await cli(args);
      expect(r.status, r.stderr).toBe(2);
      const [line, ...more] = validLines(r.stdout);
      expect(more).toEqual([]);
      expect(line).toMatchObject({
        command,
        ok: false,
        outcome: "USAGE",
        error: { code: "USAGE", rolledBack: false },
      });
      expect((line?.error as { message?: string } | undefined)?.message ?? "").toMatch(message);
      // No help text, no commander "error:" line: one `provision: ...` line and its hint.
      expect(r.stderr).not.toMatch(/Usage:|Options:|^error:/m);
      expect(r.stderr.trim().split("\n").length).toBeLessThanOrEqual(2);
    },
  );

  it("without --json the same mistakes print commander's text and help on stderr, nothing on stdout, exit 2", async () => {
    const r = await cli(["--no-such-flag"]);
    expect(r.status).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr).toMatch(/unknown option '--no-such-flag'/);
  });
});

describe("the documented codes", () => {
  it("the schema refuses what is not the shape (an object without command, an error without rolledBack)", () => {
    expect(validate({ ok: false, error: { code: "USAGE", message: "x" } })).toBe(false);
    expect(
      validate({ command: "provision", ok: false, outcome: "USAGE", error: { code: "USAGE", message: "x" } }),
    ).toBe(false);
    expect(
      validate({
        command: "provision",
        ok: false,
        outcome: "USAGE",
        error: { code: "USAGE", message: "x", rolledBack: false },
      }),
    ).toBe(true);
  });

  it("the schema lists exactly the error codes of src/errors.ts", () => {
    expect([...schema.$defs.errorCode.enum].sort()).toEqual([...ERROR_CODES].sort());
  });

  it("the README's exit-code table gives every error code its exit status", () => {
    const readme = readFileSync(resolve("README.md"), "utf8");
    const rows = new Map<string, number>();
    for (const m of readme.matchAll(/^\| (\d+) \| `([A-Z_]+)` \|/gm)) rows.set(m[2] as string, Number(m[1]));
    expect(Object.fromEntries(rows)).toEqual(EXIT_CODES);
  });
});
