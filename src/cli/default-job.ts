/**
 * `provision [flags]`, the default job, without commander: the flags that
 * need no parser (`--port P`, `--json`, `--no-reset`, `--config F`, ...)
 * read by the table's own declarations, which the build writes out as
 * dist/default-job.json (default-job-spec.ts). Loading commander and
 * building the whole table took ~15 ms of the ~70 to the port's first byte
 * (docs/performance.md, "Start-up"). Anything else goes to commander: a
 * subcommand, help, a flag with a parser or choices, a repeated flag, a
 * value that looks like a flag, an unknown flag; src/cli/default-job.test.ts
 * checks that what this reads is what commander gives the command.
 */
import { readFileSync } from "node:fs";

export interface DefaultJobFlag {
  /** As typed: "--port", "-p". */
  flags: string[];
  /** The options object's key: "port", "reset" (for --no-reset). */
  key: string;
  /** Takes a value (`--port <path>`); else a switch. */
  value: boolean;
  /** `--no-x`: false when given. */
  negate: boolean;
  /** The environment variable it falls back to. */
  env?: string;
  /** Taken as typed: no argument parser, no choices (else commander reads it). */
  plain: boolean;
}

export interface DefaultJobSpec {
  flags: DefaultJobFlag[];
  /** The options before parsing: the table's defaults. */
  defaults: Record<string, unknown>;
  /** Subcommand names and aliases: an argument equal to one goes to commander. */
  commands: string[];
}

/** Written by the build beside the code that runs (dist/), absent in a source tree. */
export function readDefaultJobSpec(): DefaultJobSpec | undefined {
  try {
    return JSON.parse(readFileSync(new URL("../default-job.json", import.meta.url), "utf8"));
  } catch {
    return undefined;
  }
}

/**
 * The options commander would give the default job for `args`, or undefined
 * where commander must read them.
 */
export function defaultJobOptions(
  args: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
  spec: DefaultJobSpec,
): Record<string, unknown> | undefined {
  const byFlag = new Map(spec.flags.flatMap((f) => f.flags.map((name) => [name, f] as const)));
  const asCommander = (v: string | undefined) =>
    v === undefined || v.startsWith("-") || spec.commands.includes(v);
  const opts: Record<string, unknown> = structuredClone(spec.defaults);
  const given = new Set<string>();
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    const eq = arg.startsWith("--") ? arg.indexOf("=") : -1;
    const flag = byFlag.get(eq < 0 ? arg : arg.slice(0, eq));
    if (!flag?.plain || given.has(flag.key)) return undefined;
    given.add(flag.key);
    if (!flag.value) {
      if (eq >= 0) return undefined;
      opts[flag.key] = !flag.negate;
      continue;
    }
    const value = eq >= 0 ? arg.slice(eq + 1) : args[++i];
    if (asCommander(value)) return undefined;
    opts[flag.key] = value;
  }
  for (const flag of spec.flags) {
    const value = flag.env === undefined ? undefined : env[flag.env];
    if (value === undefined || given.has(flag.key)) continue;
    if (!flag.plain || !flag.value) return undefined;
    opts[flag.key] = value;
  }
  return opts;
}
