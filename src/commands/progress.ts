/**
 * Human progress on stderr, one line per finished step with its duration, so
 * stdout stays free for `--json` and for the things a command prints (a CSR,
 * a port list). Timings are kept for the JSON result too.
 */
import { printable } from "../printable.js";
import type { Progress, StepTiming } from "../provision/progress.js";

export interface ProgressOptions {
  quiet?: boolean;
  stream?: NodeJS.WritableStream;
  prefix?: string;
  /**
   * Replace a step's "…" line by its result line instead of adding one (a
   * terminal, when nothing else writes to it: not with --verbose or --trace).
   */
  inPlace?: boolean;
}

export function createProgress(opts: ProgressOptions = {}) {
  const stream = opts.stream ?? process.stderr;
  const prefix = opts.prefix ? `${opts.prefix} ` : "";
  const timings: StepTiming[] = [];
  // A "…" line is on screen without its newline (in-place mode only).
  let open = false;
  // Labels and results quote the device (its id, firmware, first payload): shown escaped.
  const write = (s: string) => {
    if (opts.quiet) return;
    if (open) stream.write("\n");
    open = false;
    stream.write(`${prefix}${printable(s)}\n`);
  };
  const begin = (s: string) => {
    if (!opts.inPlace) return write(s);
    if (opts.quiet) return;
    if (open) stream.write("\n");
    stream.write(`${prefix}${printable(s)}`);
    open = true;
  };
  const end = (s: string) => {
    if (opts.inPlace && open && !opts.quiet) {
      // Carriage return + erase line: the result replaces the "…" line.
      stream.write(`\r\x1b[2K${prefix}${printable(s)}\n`);
      open = false;
      return;
    }
    write(s);
  };
  const progress: Progress = {
    timings,
    info: write,
    async step(name, label, run, describe) {
      const started = performance.now();
      begin(`… ${label}`);
      try {
        const result = await run();
        const ms = Math.round(performance.now() - started);
        timings.push({ step: name, ms, ok: true });
        const extra = describe ? `: ${describe(result)}` : "";
        end(`✔ ${label}${extra} (${ms} ms)`);
        return result;
      } catch (e) {
        const ms = Math.round(performance.now() - started);
        timings.push({ step: name, ms, ok: false });
        end(`✖ ${label} (${ms} ms)`);
        throw e;
      }
    },
  };
  return progress;
}

/** In place on a terminal, unless other output (device log, frame trace) shares it. */
export function progressFor(opts: { verbose?: boolean; trace?: boolean }) {
  return createProgress({ inPlace: Boolean(process.stderr.isTTY) && !opts.verbose && !opts.trace });
}

export function timingsObject(timings: StepTiming[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const t of timings) out[t.step] = (out[t.step] ?? 0) + t.ms;
  return out;
}
