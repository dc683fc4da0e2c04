/**
 * What the fake device knows without state: its boot log, which command is
 * valid in which state, its typed error, and the bytes it puts on the line
 * (a frame line, or noise that never forms a frame).
 */
import { webcrypto } from "node:crypto";
import { type CommandName, FRAME_END, FRAME_START } from "../protocol/index.js";

export const BOOT_LOG = [
  "ets Jun  8 2016 00:22:57",
  "",
  "rst:0x1 (POWERON_RESET),boot:0x13 (SPI_FAST_FLASH_BOOT)",
  "\x1b[0;32mI (29) boot: ESP-IDF v5.2.1 2nd stage bootloader\x1b[0m",
  "\x1b[0;32mI (339) prov: provisioning core ready, protocol 1\x1b[0m",
];

export const BAUD_SWITCH_SETTLE_MS = 20;

export const ALWAYS_ALLOWED = new Set<CommandName>(["HELLO", "STATUS", "PING", "SET_BAUD", "RESTART"]);
export const VALID_STATES: Partial<Record<CommandName, number[]>> = {
  GENERATE_KEY: [0, 1, 2, 3],
  GET_CSR: [1, 2, 3],
  WRITE_CREDENTIALS: [1, 2, 3],
  COMMIT: [2],
  LOCK: [3],
  FACTORY_RESET: [0, 1, 2, 3],
};
export const STATE_NAMES = ["EMPTY", "KEYED", "STAGED", "PROVISIONED", "LOCKED"];

export type Outcome = { ok: true; payload: Buffer } | { ok: false; status: number; text: string };

export class DeviceError extends Error {
  constructor(
    readonly status: number,
    text: string,
  ) {
    super(text);
  }
}

export function lineOf(body: Buffer): Buffer {
  return Buffer.concat([
    Buffer.from([FRAME_START]),
    Buffer.from(body.toString("base64"), "latin1"),
    Buffer.from([FRAME_END]),
  ]);
}

/** Noise with frame markers in it but never a valid frame. */
export function garbage(n: number): Buffer {
  const b = Buffer.from(webcrypto.getRandomValues(new Uint8Array(n)));
  for (let i = 0; i < n; i += 37) b[i] = FRAME_START;
  b[n - 1] = FRAME_END;
  return b;
}
