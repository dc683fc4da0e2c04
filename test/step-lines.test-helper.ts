/**
 * The line each tool prints right after a step of the pipeline, to kill it
 * there: `provision` prints "✔ <step>"; the station (plain per-slot lines
 * off a terminal) prints the next phase of the slot as the step ends.
 */
export interface StepLine {
  step: "key" | "CSR" | "register" | "credentials" | "commit" | "first publish";
  provision: RegExp;
  station: RegExp;
  /** Whether the device has committed when a signal lands right after the line. */
  committed: "no" | "maybe" | "yes";
}

export const STEP_LINES: readonly StepLine[] = [
  { step: "key", provision: /✔ make or find the key/, station: /\] [0-9a-f]{12} CSR/, committed: "no" },
  { step: "CSR", provision: /✔ get the CSR/, station: /\] [0-9a-f]{12} register/, committed: "no" },
  { step: "register", provision: /✔ register /, station: /\] [0-9a-f]{12} credentials/, committed: "no" },
  {
    step: "credentials",
    provision: /✔ write the credentials/,
    station: /\] [0-9a-f]{12} commit/,
    committed: "maybe",
  },
  {
    step: "commit",
    provision: /✔ commit the credentials/,
    station: /\] [0-9a-f]{12} first publish/,
    committed: "yes",
  },
  {
    step: "first publish",
    provision: /✔ restart and wait for the first publish/,
    station: /\] [0-9a-f]{12} provisioned/,
    committed: "yes",
  },
];
