/**
 * The serial lines of a freshly opened port: release the reset lines and
 * (unless asked not to) reset the chip into the app with its board's
 * strategy. Every command that opens a device and the station use it.
 */
import { existsSync } from "node:fs";
import { realpath } from "node:fs/promises";
import { basename, join } from "node:path";
import type { Board } from "../boards/index.js";
import { RESET_IDLE_SIGNALS, resetStepsFor, runResetSteps } from "../boards/reset.js";
import { describeSysfsTty, listPorts, SYSFS_ROOT_DEFAULT } from "../ports/index.js";
import type { Transport } from "../transport/index.js";

export interface LineOptions {
  /** Board id, for its reset strategy; else guessed from the port's USB ids. */
  board?: string;
  /** false (`--no-reset`): leave the chip running; default: hard reset into the app, as esptool does. */
  reset?: boolean;
}

/** The board whose reset circuit sits behind this port: named, or the only USB-id match. */
async function boardForPort(path: string, boardId: string | undefined): Promise<Board | undefined> {
  // The board definitions (and zod, which checks them) load only when a board is named or a USB port
  // may be one: a port without USB ids (a pty, an on-board UART) opens without them.
  if (boardId) return (await import("../boards/index.js")).getBoard(boardId);
  try {
    // This one port's sysfs entry, where there is sysfs: a station opens a port for every device, and
    // listing all ports (udevadm spawned, all of sysfs read) cost ~40 ms of CPU each time.
    const port = existsSync(join(SYSFS_ROOT_DEFAULT, "class", "tty"))
      ? await describeSysfsTty(basename(await realpath(path)))
      : (await listPorts()).find((p) => p.path === path);
    if (!port?.vid || !port.pid) return undefined;
    const candidates = (await import("../boards/index.js")).guessBoardByUsb(port.vid, port.pid);
    // Boards sharing a bridge chip share its reset wiring too; the first is as good as any.
    return candidates[0];
  } catch {
    return undefined;
  }
}

/**
 * Opening asserts DTR and RTS on many drivers, which holds an Espressif chip
 * in reset: release both, then (unless `reset: false`) reset into the app so
 * the session starts from a known boot. Closes the port if this fails, so a
 * bad --board or a failed reset never leaves it open and locked.
 */
export async function prepareLines(transport: Transport, path: string, opts: LineOptions): Promise<void> {
  try {
    const board = await boardForPort(path, opts.board);
    if (opts.reset !== false && board) {
      await runResetSteps(resetStepsFor(board), (signals) => transport.setSignals(signals));
    } else {
      await transport.setSignals({ ...RESET_IDLE_SIGNALS });
    }
  } catch (e) {
    await transport.close();
    throw e;
  }
}
