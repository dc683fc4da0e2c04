/**
 * The default job's flags as the command table declares them, for
 * default-job.ts to read `provision [flags]` without commander. The build
 * writes this to dist/default-job.json (scripts/build.mjs); the test checks
 * that both read the same arguments the same way.
 */
import type { Command } from "commander";
import type { DefaultJobFlag, DefaultJobSpec } from "./default-job.js";

export function defaultJobSpec(program: Command): DefaultJobSpec {
  const flags: DefaultJobFlag[] = program.options.map((o) => ({
    flags: [o.long, o.short].filter((f): f is string => f !== undefined),
    key: o.attributeName(),
    value: o.required,
    negate: o.negate,
    ...(o.envVar !== undefined ? { env: o.envVar } : {}),
    // --version answers and exits: commander's to do.
    plain:
      o.parseArg === undefined &&
      o.argChoices === undefined &&
      !o.variadic &&
      !o.optional &&
      o.long !== "--version",
  }));
  const commands = program.commands.flatMap((c) => [c.name(), ...c.aliases()]);
  return { flags, defaults: { ...program.opts() }, commands };
}
