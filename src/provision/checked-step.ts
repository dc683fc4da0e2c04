import { throwIfInterrupted } from "./interruption.js";
import type { Step } from "./plan.js";
import type { Progress } from "./progress.js";

/** progress.step, after a look at the signal: the interruption point before every step. */
export function checkedSteps(progress: Progress, signal: AbortSignal | undefined): Step {
  return (name, label, run, describe) => {
    throwIfInterrupted(signal);
    return progress.step(name, label, run, describe);
  };
}
