/**
 * The soak's fault catalogue: what can go wrong in a factory, one per run,
 * drawn at random (seeded). Kills land just after a step line (key, CSR,
 * register, credentials, commit, first publish); cloud faults cover the
 * whole first run; a noisy line stays for the reruns too; another station's
 * ledger had the device first (rotated or erased here, maybe killed too).
 */
import { type FaultConfig, seededRandom } from "../../src/local-iot/faults.js";
import { STEP_LINES, type StepLine } from "../../test/step-lines.test-helper.js";

export type FaultKind =
  | "none"
  | "sigkill-tool"
  | "sigterm-tool"
  | "sigterm-twice"
  | "sighup-tool"
  | "twin-power-cut"
  | "local-iot-crash"
  | "throttling"
  | "server-errors"
  | "serial-drops"
  | "another-ledger";

export const FAULT_WEIGHTS: Record<FaultKind, number> = {
  none: 1,
  "sigkill-tool": 3,
  "sigterm-tool": 3,
  "sigterm-twice": 1,
  "sighup-tool": 1,
  "twin-power-cut": 2,
  "local-iot-crash": 2,
  throttling: 2,
  "server-errors": 2,
  "serial-drops": 2,
  "another-ledger": 2,
};

/** Bytes lost per million on a noisy line: a few frames per device need a retry. */
export const SERIAL_DROP_PPM = 300;

export interface Fault {
  kind: FaultKind;
  /** Where a kill lands (kill faults only). */
  at?: StepLine;
  /** Cloud faults for the first run. */
  cloud?: FaultConfig;
  /**
   * another-ledger: the device was provisioned first at "another station"
   * (its own ledger); then this station's ledger either rotates it (--force)
   * or meets it erased (flash wiped, same chip) and provisions it with
   * --retire-unknown-certificates; the faulty run may be SIGKILLed at `at`.
   */
  variant?: "rotate" | "erase";
}

/** Seeded, so a soak can be repeated exactly (the local AWS IoT's own fault draws use the same). */
export const random = seededRandom;

function pick<T>(rng: () => number, items: readonly T[]): T {
  return items[Math.floor(rng() * items.length)] as T;
}

export function drawFault(rng: () => number): Fault {
  const total = Object.values(FAULT_WEIGHTS).reduce((a, b) => a + b, 0);
  let x = rng() * total;
  let kind: FaultKind = "none";
  for (const [k, w] of Object.entries(FAULT_WEIGHTS) as [FaultKind, number][]) {
    x -= w;
    if (x < 0) {
      kind = k;
      break;
    }
  }
  const seed = Math.floor(rng() * 2 ** 31);
  switch (kind) {
    case "throttling":
      return { kind, cloud: { seed, default: { throttleRate: 0.5 } } };
    case "server-errors":
      return { kind, cloud: { seed, default: { serverErrorRate: 0.1, serverErrorAfterCommitRate: 0.1 } } };
    case "none":
    case "serial-drops":
      return { kind };
    case "another-ledger": {
      const variant = rng() < 0.5 ? "rotate" : "erase";
      return rng() < 0.5 ? { kind, variant, at: pick(rng, STEP_LINES) } : { kind, variant };
    }
    default:
      return { kind, at: pick(rng, STEP_LINES) };
  }
}
