import { setImmediate as nextTurn } from "node:timers/promises";
import { throwIfInterrupted } from "./interruption.js";
import type { Step } from "./plan.js";
import type { Progress } from "./progress.js";

/**
 * progress.step, after a look at the signal: the interruption point before
 * every step. The look waits one turn of the event loop first: a closed
 * stderr shows up as an 'error' event after the write that met it (the
 * previous step's "done" line), and without the turn the next step, COMMIT
 * among them, would start before that event had aborted the signal.
 */
export function checkedSteps(progress: Progress, signal: AbortSignal | undefined): Step {
  return async (name, label, run, describe) => {
    if (signal) await nextTurn();
    throwIfInterrupted(signal);
    return progress.step(name, label, run, describe);
  };
}
