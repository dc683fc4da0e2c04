/**
 * A Progress (src/provision/progress.ts) for one slot: instead of printing lines
 * it moves the slot's phase and keeps the step timings, so many pipelines
 * can run at once under one live view.
 */
import type { Progress, StepTiming } from "../provision/progress.js";
import { phaseOfStep, type SlotPhase } from "./slot.js";

export interface SlotProgressHooks {
  onPhase(phase: SlotPhase, step: string): void;
  onInfo(text: string): void;
  /** The step that failed, for "failed at register" and for tests. */
  onStepFailed?(step: string): void;
  /** After a step succeeded (tests use it to pull a plug at a chosen point). */
  afterStep?(step: string): Promise<void> | void;
}

export function createSlotProgress(hooks: SlotProgressHooks): Progress {
  const timings: StepTiming[] = [];
  return {
    timings,
    info: (text) => hooks.onInfo(text),
    async step(name, _label, run) {
      const phase = phaseOfStep(name);
      if (phase) hooks.onPhase(phase, name);
      const started = performance.now();
      let result: Awaited<ReturnType<typeof run>>;
      try {
        result = await run();
      } catch (e) {
        timings.push({ step: name, ms: Math.round(performance.now() - started), ok: false });
        hooks.onStepFailed?.(name);
        throw e;
      }
      timings.push({ step: name, ms: Math.round(performance.now() - started), ok: true });
      await hooks.afterStep?.(name);
      return result;
    },
  };
}
