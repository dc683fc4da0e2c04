/**
 * Running a command and ending the process: the only place that turns an
 * error into an exit status (exit-codes.ts has the table). Commands throw;
 * they never call process.exit. No commander here: the default job starts
 * without it (default-job.ts), the command table (table.ts) uses it for the
 * rest.
 */
import { interrupt } from "../commands/interrupt.js";
import { printFailure } from "../commands/json-output.js";
import { asProvisionError } from "../errors.js";
import { interruptSignalOf, throwIfInterrupted } from "../provision/interruption.js";
import { exitStatusOf } from "./exit-codes.js";
import { jsonRequested } from "./usage-json.js";

// The SDK warns on every run under Node 20 that releases after January 2027
// need Node 22; the README says so once, the CLI need not repeat it.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";

let jsonMode = false;
/** The command running, as `--json` output names it ("provision", "verify", "firmware render", ...). */
let commandName = "provision";
/** The command the arguments name, before one runs; the command table knows its subcommands. */
let commandPath: () => string = () => "provision";

export function setCommandName(name: string): void {
  commandName = name;
}

export function setCommandPath(path: () => string): void {
  commandPath = path;
}

export function fail(e: unknown): never {
  const err = asProvisionError(e);
  // A usage error found before the command ran (an argument parser's) still honours --json.
  if (jsonMode || jsonRequested()) {
    printFailure(jsonMode ? commandName : commandPath(), err);
  }
  process.stderr.write(`provision: ${err.describe()}\n`);
  if (err.code === "INTERNAL" && err.cause instanceof Error && err.cause.stack) {
    process.stderr.write(`${err.cause.stack}\n`);
  }
  process.exit(exitStatusOf(err.code, interruptSignalOf(err)));
}

export function run<T extends object>(load: () => Promise<(opts: T) => Promise<unknown>>) {
  return async (opts: T & { json?: boolean }) => {
    jsonMode = Boolean(opts.json);
    try {
      // A signal while the tool was loading: stop before the command touches anything.
      throwIfInterrupted(interrupt.signal);
      const command = await load();
      throwIfInterrupted(interrupt.signal);
      await command(opts);
      // A command that stopped cleanly on a signal (a service, or a job that finished anyway) exits as
      // an interruption: 130, 143 or 129.
      if (interrupt.signal.aborted)
        process.exit(exitStatusOf("INTERRUPTED", interruptSignalOf(interrupt.signal.reason)));
    } catch (e) {
      fail(e);
    }
  };
}

/** `provision [flags]`, the default job: the code of `provision --port P`. */
export const runDefaultJob = run(async () => (await import("../commands/provision.js")).provisionCommand);
