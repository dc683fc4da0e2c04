/**
 * Meeting the device: HELLO (unless the caller already met it), the board
 * it says it is, the optional baud switch, and its state.
 */
import type { Board } from "../boards/index.js";
import { ProvisionError } from "../errors.js";
import type { HelloAnswer, StatusAnswer } from "../protocol/index.js";
import type { DeviceSession } from "../session/index.js";
import { checkedSteps } from "./checked-step.js";
import { throwIfInterrupted } from "./interruption.js";
import { stateName } from "./names.js";
import type { ProvisionDeps, ProvisionPlan } from "./plan.js";
import type { Progress } from "./progress.js";

/**
 * A device the caller has already met (the station reads HELLO first to
 * check its ledger and switches the baud rate itself): the pipeline neither
 * repeats HELLO nor switches the rate again.
 */
export interface Greeting {
  hello: HelloAnswer;
}

export interface Greeted {
  hello: HelloAnswer;
  status: StatusAnswer;
  /** The board the device says it is, when this tool knows it. */
  board: Board | undefined;
}

/**
 * HELLO, the board check and the optional baud switch: what a caller that
 * meets the device before the rest (`provision --port`, before it loads the
 * cloud side) passes to the pipeline as the greeting.
 */
export async function meetDevice(
  deps: Pick<ProvisionDeps, "session" | "progress" | "signal">,
  plan: Pick<ProvisionPlan, "boardId" | "switchBaud">,
): Promise<Greeting> {
  const { session, progress, signal } = deps;
  const hello = await checkedSteps(progress, signal)(
    "hello",
    `meet the device on ${session.port}`,
    () => session.hello(),
    (h) => `${h.boardId} ${h.deviceId}, firmware ${h.firmwareVersion}`,
  );
  checkBoard(plan, hello, session.port);
  if (plan.switchBaud) {
    throwIfInterrupted(signal);
    await switchBaud(session, hello, plan.switchBaud, progress);
  }
  return { hello };
}

function checkBoard(plan: Pick<ProvisionPlan, "boardId">, hello: HelloAnswer, where: string): void {
  if (plan.boardId && plan.boardId !== hello.boardId) {
    throw new ProvisionError(
      "DEVICE_MISMATCH",
      `--board ${plan.boardId} but the device says it is ${hello.boardId}`,
      {
        where,
        hint: "drop --board, or flash the firmware rendered for this board",
      },
    );
  }
}

/** The device met (here, unless the caller did), then its state. */
export async function greet(
  deps: Pick<ProvisionDeps, "session" | "progress" | "signal">,
  plan: Pick<ProvisionPlan, "boardId" | "switchBaud">,
  greeting?: Greeting,
): Promise<Greeted> {
  const { session, progress, signal } = deps;
  const { hello } = greeting ?? (await meetDevice(deps, plan));
  // A caller's greeting may come from a device it met without knowing the plan's board.
  if (greeting) checkBoard(plan, hello, session.port);
  const board = await tryBoard(hello.boardId);
  // A board known only from HELLO still gets its slow-device waits (key generation, boot).
  if (board?.deviceTimeoutsMs) session.raiseTimeouts(board.deviceTimeoutsMs);
  const status = await checkedSteps(progress, signal)(
    "status",
    "read the device state",
    () => session.status(),
    (s) => stateName(s.state),
  );
  return { hello, status, board };
}

/** The faster line rate for the long transfers, if the device offers it; the session falls back on failure. */
export async function switchBaud(
  session: DeviceSession,
  hello: HelloAnswer,
  baud: number,
  progress: Progress,
) {
  if (!hello.baudRates.includes(baud)) {
    progress.info(
      `the device cannot switch to ${baud} baud (it offers ${hello.baudRates.join(", ")}): staying`,
    );
    return;
  }
  await progress.step(
    "baud",
    `switch to ${baud} baud`,
    () => session.setBaud(baud),
    (r) => (r.fellBack ? `ping failed at ${baud}, back at ${r.baudRate}` : `now ${r.baudRate}`),
  );
}

async function tryBoard(id: string): Promise<Board | undefined> {
  const { getBoard } = await import("../boards/index.js");
  try {
    return getBoard(id);
  } catch {
    return undefined;
  }
}
