import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { Command } from "commander";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { PACKAGE_ROOT } from "../package-root.js";
import { defaultJobOptions } from "./default-job.js";
import { defaultJobSpec } from "./default-job-spec.js";
import { commandTable } from "./table.js";

const spec = defaultJobSpec(commandTable());
const ENV_NAMES = spec.flags.flatMap((f) => (f.env ? [f.env] : []));

/** Every command of the table, its action and its exits caught: parsing runs nothing. */
function quiet(cmd: Command, onAction: (what: string, opts?: unknown) => void): void {
  cmd.exitOverride().configureOutput({ writeOut: () => undefined, writeErr: () => undefined });
  cmd.action((...args: unknown[]) => {
    onAction(cmd.parent ? cmd.name() : "default", args.at(-2));
  });
  for (const sub of cmd.commands) quiet(sub, onAction);
}

/** What commander gives the default job for these arguments and environment, or why it does not run. */
async function commanderReads(args: string[], env: Record<string, string>) {
  const saved = Object.fromEntries(ENV_NAMES.map((n) => [n, process.env[n]]));
  for (const n of ENV_NAMES) delete process.env[n];
  Object.assign(process.env, env);
  let ran: { what: string; opts?: unknown } | undefined;
  const program = commandTable();
  quiet(program, (what, opts) => {
    ran = { what, opts };
  });
  try {
    await program.parseAsync(args, { from: "user" });
    return ran;
  } catch (e) {
    return { what: `error: ${(e as Error).message}` };
  } finally {
    for (const n of ENV_NAMES) {
      if (saved[n] === undefined) delete process.env[n];
      else process.env[n] = saved[n];
    }
  }
}

/** `--flag`, `--flag value`, `--flag=value` or `-f value`, as a user may type them. */
function flagWithValue(
  names: string[],
  takesValue: boolean,
  value: fc.Arbitrary<string>,
): fc.Arbitrary<string[]> {
  const name = fc.constantFrom(...names);
  if (!takesValue) return name.map((n) => [n]);
  return fc
    .tuple(name, value, fc.boolean())
    .map(([n, v, joined]) => (joined && n.startsWith("--") ? [`${n}=${v}`] : [n, v]));
}

describe("the default job without commander", () => {
  it("reads `--port P` and the plain flags as commander does", async () => {
    const args = ["--port", "/dev/ttyUSB0", "--json", "--no-reset", "--config=x.json", "-p", "/dev/ttyS1"];
    expect(defaultJobOptions(args, {}, spec)).toBeUndefined(); // --port twice: commander's
    const once = args.slice(0, 5);
    const fast = defaultJobOptions(once, {}, spec);
    expect(fast).toMatchObject({ port: "/dev/ttyUSB0", json: true, reset: false, config: "x.json" });
    expect(await commanderReads(once, {})).toEqual({ what: "default", opts: fast });
  });

  it("takes the port from ESPPORT, and leaves a flag with a parser (--baud, ESPBAUD) to commander", async () => {
    expect(defaultJobOptions([], { ESPPORT: "/dev/ttyACM0" }, spec)).toMatchObject({ port: "/dev/ttyACM0" });
    expect(defaultJobOptions(["--port", "P"], { ESPBAUD: "9600" }, spec)).toBeUndefined();
    expect(defaultJobOptions(["--baud", "9600"], {}, spec)).toBeUndefined();
    for (const other of [
      ["--help"],
      ["-h"],
      ["--version"],
      ["verify"],
      ["--port", "verify"],
      ["--port", "-x"],
    ])
      expect(defaultJobOptions(other, {}, spec), other.join(" ")).toBeUndefined();
  });

  it("whatever it reads, commander reads the same (any mix of the table's flags and values)", async () => {
    const value = fc.constantFrom(
      "/dev/ttyUSB0",
      "x",
      "",
      "-x",
      "a=b",
      "1,2,3",
      "9600",
      "published",
      "verify",
    );
    const plain = spec.flags.filter((f) => f.plain);
    // Mostly what the fast path reads (a flag of the table, with a value if it takes one), some of anything.
    const item = fc.oneof(
      {
        weight: 8,
        arbitrary: fc.constantFrom(...plain).chain((f) => flagWithValue(f.flags, f.value, value)),
      },
      {
        weight: 1,
        arbitrary: fc.constantFrom(...spec.flags).chain((f) => flagWithValue(f.flags, f.value, value)),
      },
      {
        weight: 1,
        arbitrary: fc
          .constantFrom(
            "--help",
            "-h",
            "--",
            "--json=1",
            "--no-reset=",
            "-px",
            "--port=/dev/x",
            ...spec.commands,
          )
          .map((t) => [t]),
      },
      { weight: 1, arbitrary: value.map((v) => [v]) },
    );
    // Now and then a variable with a parser (ESPBAUD), which is commander's to read.
    const env = fc.dictionary(
      fc.constantFrom(...ENV_NAMES, ...plain.flatMap((f) => (f.env ? [f.env, f.env, f.env] : []))),
      fc.constantFrom("/dev/ttyS1", "", "115200", "eu-west-1"),
    );
    let readFast = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(item, { maxLength: 6 }), env, async (items, vars) => {
        const args = items.flat();
        const fast = defaultJobOptions(args, vars, spec);
        if (fast === undefined) return;
        readFast++;
        expect(await commanderReads(args, vars)).toEqual({ what: "default", opts: fast });
      }),
      { numRuns: 1000 },
    );
    // The property says something only if many of the mixes were the fast path's to read (~280 of 1000).
    expect(readFast).toBeGreaterThan(150);
  });

  it("dist/default-job.json, which the CLI reads, is this table's (the build writes it)", () => {
    const built = JSON.parse(readFileSync(join(PACKAGE_ROOT, "dist", "default-job.json"), "utf8"));
    expect(built).toEqual(JSON.parse(JSON.stringify(spec)));
  });
});
