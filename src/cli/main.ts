/**
 * The CLI: `provision [flags]`, the default job, read without commander when
 * its flags allow (default-job.ts), else the command table (table.ts).
 * src/cli/run.ts runs the command and maps errors to exit statuses.
 */
import { installInterruptHandler } from "../commands/interrupt.js";
import { defaultJobOptions, readDefaultJobSpec } from "./default-job.js";
import { fail, runDefaultJob } from "./run.js";

installInterruptHandler(fail);

const spec = readDefaultJobSpec();
const opts = spec && defaultJobOptions(process.argv.slice(2), process.env, spec);
if (opts) void runDefaultJob(opts);
else import("./table.js").then(({ commandTable }) => commandTable().parseAsync(process.argv)).catch(fail);
