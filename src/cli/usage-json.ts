/**
 * Usage errors under `--json`. Commander finds a bad flag, a bad value or a
 * missing option before any command runs, and used to print its text and
 * the whole help on stderr and nothing on stdout, so a script reading
 * stdout saw no object at all. With `--json` on the command line, its error
 * becomes a USAGE ProvisionError that the CLI prints like any other failure
 * (one object on stdout, docs/json-output.md; a short line on stderr; exit 2).
 */
import type { Command, CommanderError } from "commander";
import { ProvisionError } from "../errors.js";

/** The arguments before a `--`, where flags are. */
function flagArgs(argv: readonly string[]): readonly string[] {
  const end = argv.indexOf("--");
  return end < 0 ? argv : argv.slice(0, end);
}

/** `--json` was asked for, whether or not parsing got as far as the command. */
export function jsonRequested(argv: readonly string[] = process.argv.slice(2)): boolean {
  return flagArgs(argv).includes("--json");
}

/** The command the arguments name, as `--json` output names it ("provision", "firmware render", ...). */
export function commandPathOf(program: Command, argv: readonly string[] = process.argv.slice(2)): string {
  const names: string[] = [];
  let at: Command = program;
  for (const arg of flagArgs(argv)) {
    if (arg.startsWith("-")) continue;
    const sub = at.commands.find((c) => c.name() === arg || c.aliases().includes(arg));
    if (!sub) break;
    names.push(sub.name());
    at = sub;
  }
  return names.length > 0 ? names.join(" ") : "provision";
}

/** Commander's error as the tool's USAGE error. */
export function usageError(err: CommanderError, command: string): ProvisionError {
  const message = err.message.replace(/^error: /, "").trim() || "usage error";
  const help = command === "provision" ? "provision --help" : `provision ${command} --help`;
  return new ProvisionError("USAGE", message, { hint: `\`${help}\` lists the flags and their values` });
}
