/**
 * The ledger as the commands open it: the default file, `--ledger-wait`,
 * the lock's wait line and the set-aside tail said on stderr, and a forced
 * exit that waits for the last record to reach the disk.
 */
import type { Ledger, TornTail } from "../ledger/index.js";
import { beforeForcedExit, interrupt } from "./interrupt.js";

export const LEDGER_FILE_DEFAULT = "provision-ledger.jsonl";

/** What Ledger.open set aside at the end of a ledger, in words. */
export function setAsideText(t: TornTail): string {
  const what = t.torn
    ? `a torn record (${t.bytes} bytes, a crash mid-write)`
    : `${t.lines} line(s) that are no ledger record (${t.bytes} bytes)`;
  return `${what} at the end of the ledger (byte ${t.offset}) was set aside in ${t.keptIn}`;
}

/** `--ledger-wait SECONDS` in ms (default: LEDGER_LOCK_WAIT_MS_DEFAULT). */
export function ledgerWaitMs(seconds: number | undefined): number | undefined {
  return seconds === undefined ? undefined : seconds * 1000;
}

/**
 * Opens the ledger as its one writer (waiting for another process that
 * writes it, naming it), says if its end was set aside, and keeps a forced
 * exit waiting for it.
 */
export async function openLedger(
  file: string,
  info: (text: string) => void,
  waitSeconds?: number,
): Promise<Ledger> {
  // The ledger (and what it needs of the registry) loads when a command opens one, not at start.
  const { Ledger } = await import("../ledger/index.js");
  const ledger = await Ledger.open(file, {
    waitMs: ledgerWaitMs(waitSeconds),
    onWait: info,
    signal: interrupt.signal,
  });
  if (ledger.tornTail) info(`ledger ${file}: ${setAsideText(ledger.tornTail)}; continuing on a fresh line`);
  // A closed ledger is idle at once: the hook never needs removing in a CLI process.
  beforeForcedExit(() => ledger.idle());
  return ledger;
}
