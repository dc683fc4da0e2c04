/** What a device session is given and reports: options, events, statistics, traces. */
import type {
  COMMAND_TIMING,
  CommandTiming,
  DeviceEvent,
  DeviceTimeoutName,
  Frame,
} from "../protocol/index.js";

/** How many device log lines are kept for error reports. */
export const DEVICE_LOG_LINES = 50;
/** How many of them go into an error's deviceLog. */
export const ERROR_LOG_LINES = 20;
/** A chunked request whose reassembly the device dropped (ERR_CHUNK/ERR_DIGEST) is restarted this often. */
export const CHUNK_RESTARTS_MAX = 2;

export type TimingKey = keyof typeof COMMAND_TIMING;

export interface TraceEntry {
  direction: "tx" | "rx";
  frame: Frame;
  /** Command name of the frame's type (or TYPE_0x..). */
  name: string;
  /** Attempt number for transmitted requests (1 = first). */
  attempt?: number;
}

export interface WireRecord {
  direction: "tx" | "rx";
  bytes: Buffer;
}

/** Total bytes per direction of a wire record. */
export function wireTotals(records: readonly WireRecord[]): { tx: number; rx: number } {
  let tx = 0;
  let rx = 0;
  for (const r of records) {
    if (r.direction === "tx") tx += r.bytes.length;
    else rx += r.bytes.length;
  }
  return { tx, rx };
}

/** Waits raised for a slow device, by name (DEVICE_TIMEOUT_NAMES). */
export type DeviceTimeouts = Partial<Record<DeviceTimeoutName, number>>;

export interface DeviceSessionOptions {
  /** Overrides of the per-command timing of section 6 (tests use short timeouts). */
  timing?: Partial<Record<TimingKey, Partial<CommandTiming>>>;
  /** Ring buffer size for device log lines (default DEVICE_LOG_LINES). */
  logLines?: number;
  /** Keep every byte sent and received (for tests and overhead measurement). */
  recordWire?: boolean;
  /** Called for every frame sent and every frame received (a --trace flag). */
  trace?: (entry: TraceEntry) => void;
}

export interface SessionEvents {
  /** A line of device log text (ESP-IDF log, ROM banner), without its line end. */
  log: [line: string];
  /** An EVENT frame from the device; seq is the device's own event counter. */
  event: [event: DeviceEvent & { seq: number }];
}

export interface SessionStats {
  framesSent: number;
  framesReceived: number;
  /** Responses that matched no outstanding request (late answers to an earlier attempt). */
  lateResponses: number;
  /** Frame lines that failed to decode (bad CRC, base64, ...), bad_version included. */
  frameErrors: number;
  retries: number;
}

export interface SetBaudResult {
  /** The rate both sides use now. */
  baudRate: number;
  /** True when the switch did not work and both sides went back to the old rate. */
  fellBack: boolean;
}
