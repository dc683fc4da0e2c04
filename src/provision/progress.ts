/**
 * What the pipeline reports as it goes: each step with its name, a label for
 * people and its duration. The pipeline only calls this interface; the CLI
 * (src/commands/progress.ts: lines on stderr) and the station
 * (src/station/slot-progress.ts: a slot's phase) implement it.
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
