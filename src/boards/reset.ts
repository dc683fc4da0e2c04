/**
 * Reset sequences: the board's reset strategy as steps, in esptool-js's
 * custom-sequence language (`D0|R1|W100|R0`: D = DTR, R = RTS, 1 = asserted,
 * W = wait in ms), and a runner that drives them through any
 * "set both lines" function.
 *
 * The runner always sets DTR and RTS together because node-serialport's
 * `set()` resets every flag it is not given to its default (asserted), which
 * would hold the chip in reset or in download mode (REFERENCE: serialport
 * #384, #1605).
 */
import { ProvisionError } from "../errors.js";

/**
 * classic: DTR/RTS drive EN and IO0 through two transistors; usb-jtag-serial:
 * the chip's own USB controller; none: no reset lines.
 */
export const RESET_STRATEGIES = ["classic", "usb-jtag-serial", "none"] as const;
export type ResetStrategy = (typeof RESET_STRATEGIES)[number];

/**
 * esptool-js's custom reset language, times in milliseconds:
 * D = DTR, R = RTS (1 = asserted), W = wait. Example: `D0|R1|W100|D1|R0|W50|D0`.
 * Here, not in the board schema, so that opening a port needs no zod.
 */
export const RESET_SEQUENCE_PATTERN = /^(?:[DR][01]|W\d{1,5})(?:\|(?:[DR][01]|W\d{1,5}))*$/;

export type ResetStep = { line: "dtr" | "rts"; asserted: boolean } | { waitMs: number };

/** Lines as they should be while talking to the app: neither EN nor IO0 pulled. */
export const RESET_IDLE_SIGNALS = { dtr: false, rts: false } as const;

/**
 * Hard reset into the application per strategy (esptool's HardReset): RTS
 * holds EN low with IO0 released; USB-Serial-JTAG needs longer because the
 * USB device re-enumerates.
 */
export const RESET_SEQUENCE_DEFAULT: Record<ResetStrategy, string> = {
  classic: "D0|R1|W100|R0",
  "usb-jtag-serial": "D0|R1|W200|R0|W200",
  none: "",
};

export function parseResetSequence(text: string): ResetStep[] {
  if (text === "") return [];
  if (!RESET_SEQUENCE_PATTERN.test(text)) {
    throw new ProvisionError("CONFIG", `invalid reset sequence "${text}"`, {
      where: "reset.sequence",
      hint: "use steps like D0|R1|W100|D1|R0|W50|D0 (D/R then 0 or 1, W then milliseconds)",
    });
  }
  return text.split("|").map((step): ResetStep => {
    const arg = Number(step.slice(1));
    if (step[0] === "W") return { waitMs: arg };
    return { line: step[0] === "D" ? "dtr" : "rts", asserted: arg === 1 };
  });
}

/** The board's hard-reset-into-app steps: its custom sequence, else its strategy's default. */
export function resetStepsFor(board: {
  reset: { strategy: ResetStrategy; sequence?: string | undefined };
}): ResetStep[] {
  return parseResetSequence(board.reset.sequence ?? RESET_SEQUENCE_DEFAULT[board.reset.strategy]);
}

/**
 * Runs steps from the idle state (both released), calling setSignals with
 * both lines on every D/R step, and ends with both released.
 */
export async function runResetSteps(
  steps: readonly ResetStep[],
  setSignals: (signals: { dtr: boolean; rts: boolean }) => Promise<unknown>,
  sleep: (ms: number) => Promise<void> = (ms) => new Promise((r) => setTimeout(r, ms)),
): Promise<void> {
  if (steps.length === 0) return;
  const state: { dtr: boolean; rts: boolean } = { ...RESET_IDLE_SIGNALS };
  for (const step of steps) {
    if ("waitMs" in step) await sleep(step.waitMs);
    else {
      state[step.line] = step.asserted;
      await setSignals({ ...state });
    }
  }
  if (state.dtr || state.rts) await setSignals({ ...RESET_IDLE_SIGNALS });
}
