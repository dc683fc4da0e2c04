/**
 * Human progress on stderr, one line per finished step with its duration, so
 * stdout stays free for `--json` and for the things a command prints (a CSR,
 * a port list). Timings are kept for the JSON result too.
 */
export interface StepTiming {
  step: string;
  ms: number;
  ok: boolean;
}

export interface Progress {
  step<T>(name: string, label: string, run: () => Promise<T>, describe?: (r: T) => string): Promise<T>;
  info(text: string): void;
  readonly timings: StepTiming[];
}

export function createProgress(
  opts: { quiet?: boolean; stream?: NodeJS.WritableStream; prefix?: string } = {},
) {
  const stream = opts.stream ?? process.stderr;
  const prefix = opts.prefix ? `${opts.prefix} ` : "";
  const timings: StepTiming[] = [];
  const write = (s: string) => {
    if (!opts.quiet) stream.write(`${prefix}${s}\n`);
  };
  const progress: Progress = {
    timings,
    info: write,
    async step(name, label, run, describe) {
      const started = performance.now();
      write(`… ${label}`);
      try {
        const result = await run();
        const ms = Math.round(performance.now() - started);
        timings.push({ step: name, ms, ok: true });
        const extra = describe ? `: ${describe(result)}` : "";
        write(`✔ ${label}${extra} (${ms} ms)`);
        return result;
      } catch (e) {
        const ms = Math.round(performance.now() - started);
        timings.push({ step: name, ms, ok: false });
        write(`✖ ${label} (${ms} ms)`);
        throw e;
      }
    },
  };
  return progress;
}

export function timingsObject(timings: StepTiming[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const t of timings) out[t.step] = (out[t.step] ?? 0) + t.ms;
  return out;
}
