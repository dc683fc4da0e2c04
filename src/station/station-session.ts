/**
 * How the station turns a port into a device session: the serial transport,
 * optionally paced like a UART on the host side (device twins), optionally
 * counting bytes on the wire against frame payload bytes (benchmark).
 */
import { getBoard } from "../boards/index.js";
import { DeviceSession, type DeviceTimeouts } from "../session/index.js";
import { prepareLines } from "../session/prepare-lines.js";
import { BAUD_DEFAULT, openSerialTransport, type Transport } from "../transport/index.js";
import { PacedTransport } from "./paced-transport.js";

export interface WireCounters {
  /** Bytes written to / read from the port (frames, line ends, device log lines). */
  txBytes: number;
  rxBytes: number;
  /** Frame payload bytes (the protocol's content) sent / received. */
  txPayload: number;
  rxPayload: number;
}

export interface StationSessionOptions {
  baud?: number;
  /** Board id for the reset strategy (else guessed from the port's USB ids). */
  board?: string;
  /** false: do not reset the chip on open (lines are still released). */
  reset?: boolean;
  paceHost?: boolean;
  measureWire?: boolean;
  /** `--device-timeout`: waits raised for slow devices. */
  deviceTimeouts?: DeviceTimeouts;
}

export async function openStationSession(
  port: string,
  options: StationSessionOptions = {},
): Promise<{ session: DeviceSession; wire?: WireCounters }> {
  const serial = await openSerialTransport(port, { baudRate: options.baud ?? BAUD_DEFAULT });
  // Same line handling as `provision --port`: never leave the chip held in reset by DTR/RTS.
  await prepareLines(serial, port, { board: options.board, reset: options.reset });
  const transport: Transport = options.paceHost ? new PacedTransport(serial) : serial;
  const slow = (session: DeviceSession) => {
    if (options.board) session.raiseTimeouts(getBoard(options.board).deviceTimeoutsMs ?? {});
    if (options.deviceTimeouts) session.raiseTimeouts(options.deviceTimeouts);
    return session;
  };
  if (!options.measureWire) return { session: slow(new DeviceSession(transport)) };
  const wire: WireCounters = { txBytes: 0, rxBytes: 0, txPayload: 0, rxPayload: 0 };
  const session = slow(
    new DeviceSession(transport, {
      recordWire: true,
      trace: (t) => {
        if (t.direction === "tx") wire.txPayload += t.frame.payload.length;
        else wire.rxPayload += t.frame.payload.length;
      },
    }),
  );
  // Read the session's byte counts when asked, so the figures include everything up to close().
  return {
    session,
    get wire() {
      const bytes = session.wireBytes();
      wire.txBytes = bytes.tx;
      wire.rxBytes = bytes.rx;
      return wire;
    },
  };
}
