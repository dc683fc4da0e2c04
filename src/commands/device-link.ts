/**
 * Opening a device for a command: resolve the port, open the transport, and
 * start a session whose device log and decoded frames can be shown on
 * request (--verbose, --trace). Shared by every command that talks to a
 * device so they all fail the same clear way.
 */
import { existsSync } from "node:fs";
import { realpath } from "node:fs/promises";
import { basename, join } from "node:path";
import { type Board, getBoard, guessBoardByUsb } from "../boards/index.js";
import { RESET_IDLE_SIGNALS, resetStepsFor, runResetSteps } from "../boards/reset.js";
import { ProvisionError } from "../errors.js";
import { describeSysfsTty, listPorts, SYSFS_ROOT_DEFAULT } from "../ports/index.js";
import { messageName } from "../protocol/index.js";
import { DeviceSession } from "../session/index.js";
import { BAUD_DEFAULT, openSerialTransport, type Transport } from "../transport/index.js";

export interface DeviceLinkOptions {
  port?: string;
  baud?: number;
  verbose?: boolean;
  trace?: boolean;
  /** Board id, for its reset strategy; else guessed from the port's USB ids. */
  board?: string;
  /** false (`--no-reset`): leave the chip running; default: hard reset into the app, as esptool does. */
  reset?: boolean;
}

/** The board whose reset circuit sits behind this port: named, or the only USB-id match. */
async function boardForPort(path: string, boardId: string | undefined): Promise<Board | undefined> {
  if (boardId) return getBoard(boardId);
  try {
    // This one port's sysfs entry, where there is sysfs: a station opens a port for every device, and
    // listing all ports (udevadm spawned, all of sysfs read) cost ~40 ms of CPU each time.
    const port = existsSync(join(SYSFS_ROOT_DEFAULT, "class", "tty"))
      ? await describeSysfsTty(basename(await realpath(path)))
      : (await listPorts()).find((p) => p.path === path);
    if (!port?.vid || !port.pid) return undefined;
    const candidates = guessBoardByUsb(port.vid, port.pid);
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
export async function prepareLines(
  transport: Transport,
  path: string,
  opts: Pick<DeviceLinkOptions, "board" | "reset">,
): Promise<void> {
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

export async function openDevice(opts: DeviceLinkOptions): Promise<DeviceSession> {
  if (!opts.port) {
    throw new ProvisionError("PORT_NOT_GIVEN", "no serial port given", {
      hint: "pass --port /dev/ttyUSB0 (or set ESPPORT); `provision ports` lists the ports",
    });
  }
  const transport = await openSerialTransport(opts.port, { baudRate: opts.baud ?? BAUD_DEFAULT });
  await prepareLines(transport, opts.port, opts);
  const session = new DeviceSession(transport, {
    trace: opts.trace
      ? (t) =>
          process.stderr.write(
            `[trace] ${t.direction} ${messageName(t.frame.type)} seq=${t.frame.seq} flags=${t.frame.flags} ${t.frame.payload.length} B\n`,
          )
      : undefined,
  });
  if (opts.verbose) session.on("log", (line) => process.stderr.write(`[device] ${line}\n`));
  return session;
}
