/**
 * Meeting the device: HELLO (unless the caller already met it), the board
 * it says it is, the optional baud switch, and its state.
 */
import { type Board, getBoard } from "../boards/index.js";
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

export async function greet(
  deps: Pick<ProvisionDeps, "session" | "progress" | "signal">,
  plan: Pick<ProvisionPlan, "boardId" | "switchBaud">,
  greeting?: Greeting,
): Promise<Greeted> {
  const { session, progress, signal } = deps;
  const where = session.port;
  const step = checkedSteps(progress, signal);
  const hello =
    greeting?.hello ??
    (await step(
      "hello",
      `meet the device on ${where}`,
      () => session.hello(),
      (h) => `${h.boardId} ${h.deviceId}, firmware ${h.firmwareVersion}`,
    ));
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
  if (plan.switchBaud && greeting === undefined) {
    throwIfInterrupted(signal);
    await switchBaud(session, hello, plan.switchBaud, progress);
  }
  const board = tryBoard(hello.boardId);
  // A board known only from HELLO still gets its slow-device waits (key generation, boot).
  if (board?.deviceTimeoutsMs) session.raiseTimeouts(board.deviceTimeoutsMs);
  const status = await step(
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

function tryBoard(id: string) {
  try {
    return getBoard(id);
  } catch {
    return undefined;
  }
}
