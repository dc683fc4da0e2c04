/**
 * Opening a device for a command: resolve the port, open the transport, and
 * start a session whose device log and decoded frames can be shown on
 * request (--verbose, --trace). Shared by every command that talks to a
 * device so they all fail the same clear way.
 */

import { ProvisionError } from "../errors.js";
import { messageName } from "../protocol/index.js";
import { DeviceSession, type DeviceTimeouts } from "../session/index.js";
import { type LineOptions, prepareLines } from "../session/prepare-lines.js";
import { BAUD_DEFAULT, openSerialTransport } from "../transport/index.js";

export interface DeviceLinkOptions extends LineOptions {
  port?: string;
  baud?: number;
  verbose?: boolean;
  trace?: boolean;
  /** `--device-timeout NAME=MS`, parsed: waits raised for a slow device. */
  deviceTimeout?: DeviceTimeouts;
}

/** The device the flags name, else the config file (its port and baud rate). */
export function openConfiguredDevice(
  opts: DeviceLinkOptions,
  config: { port?: string; baud?: number },
): Promise<DeviceSession> {
  return openDevice({ ...opts, port: opts.port ?? config.port, baud: opts.baud ?? config.baud });
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
  // A named board's waits apply from the first HELLO on; one learnt from HELLO raises them in greet().
  if (opts.board)
    session.raiseTimeouts((await import("../boards/index.js")).getBoard(opts.board).deviceTimeoutsMs ?? {});
  if (opts.deviceTimeout) session.raiseTimeouts(opts.deviceTimeout);
  if (opts.verbose) session.on("log", (line) => process.stderr.write(`[device] ${line}\n`));
  return session;
}
