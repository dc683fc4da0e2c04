/**
 * What the live view shows per port (slot): a small state machine fed by the
 * pipeline's step names. A slot is a physical place (a fixture socket, a USB
 * location, or just a port path), not a device: it outlives the devices that
 * pass through it.
 */
export type SlotPhase =
  | "waiting"
  | "flash"
  | "hello"
  | "baud"
  | "key"
  | "csr"
  | "register"
  | "credentials"
  | "commit"
  | "firstPublish"
  | "restartCheck"
  | "done"
  | "failed";

/** Pipeline step name (progress.step) -> the phase the view shows. */
const PHASE_OF_STEP: Record<string, SlotPhase> = {
  loader: "flash",
  reset: "flash",
  boot: "flash",
  hello: "hello",
  status: "hello",
  baud: "baud",
  key: "key",
  csr: "csr",
  register: "register",
  endpoint: "credentials",
  credentials: "credentials",
  commit: "commit",
  firstPublish: "firstPublish",
  retire: "firstPublish",
  lock: "firstPublish",
  restartCheck: "restartCheck",
};

export function phaseOfStep(step: string): SlotPhase | undefined {
  // One step per flash region: flash:bootloader, flash:app, ...
  return step.startsWith("flash:") ? "flash" : PHASE_OF_STEP[step];
}

/** What an earlier failure left in the cloud, from the ledger after the pipeline gave up. */
export type RollbackOutcome =
  /** Nothing had been registered yet. */
  | "nothing-registered"
  /** Everything the run registered is gone again. */
  | "rolled-back"
  /** A rollback did not finish: `provision cleanup --ledger FILE` finishes it. */
  | "rollback-open"
  /** The device committed the credentials (failure after COMMIT): nothing to undo. */
  | "kept";

export interface SlotResult {
  ok: boolean;
  /** provisioned | rotated | verified | skipped, or the error code. */
  outcome: string;
  deviceId?: string;
  thingName?: string;
  certificateId?: string;
  message?: string;
  /** What to do about a failure. */
  hint?: string;
  /** A failure's last device log lines (escaped), when the device misbehaved. */
  deviceLog?: string[];
  rollback?: RollbackOutcome;
  totalMs: number;
}

export interface SlotView {
  slot: string;
  port: string;
  usbLocation?: string;
  phase: SlotPhase;
  deviceId?: string;
  /** The current device's thing name, once HELLO told its id. */
  thingName?: string;
  /** Epoch ms the current device was taken on (for the elapsed column). */
  startedAt?: number;
  /** Last info line of the pipeline (e.g. "rolling back ..."). */
  note?: string;
  /** How far the current long step is (flashing: the region's payload sent), 0..1. */
  progress?: number;
  last?: SlotResult;
  /** Devices this slot finished (ok) and failed since the station started. */
  okCount: number;
  failedCount: number;
}

export function newSlot(slot: string, port: string, usbLocation?: string): SlotView {
  const view: SlotView = { slot, port, phase: "waiting", okCount: 0, failedCount: 0 };
  if (usbLocation !== undefined) view.usbLocation = usbLocation;
  return view;
}
