import {
  crc32,
  DEVICE_STATE,
  EVENT_CODE,
  encodeEvent,
  encodeFrame,
  encodeFrameBody,
  encodeOkResponse,
  encodeRequest,
  FLAG_RESPONSE,
  type Frame,
  MSG,
} from "../../src/protocol/index.js";
import { helloAnswer } from "./message-table.js";
import { prng } from "./sample-data.js";

// ---- frame streams -------------------------------------------------------

export type Expect =
  | { kind: "frame"; version: number; type: number; seq: number; flags: number; payload_hex: string }
  | { kind: "log"; text: string }
  | { kind: "error"; error: string; version?: number; type?: number; seq?: number };

export interface Piece {
  wire: Buffer;
  expect: Expect[];
}

export const frameExpect = (f: Frame): Expect => ({
  kind: "frame",
  version: f.version,
  type: f.type,
  seq: f.seq,
  flags: f.flags,
  payload_hex: f.payload.toString("hex"),
});
/** A frame line as the device writes it. */
export const frame = (f: Frame, eol = "\n"): Piece => {
  const line = encodeFrame(f);
  return {
    wire: Buffer.concat([line.subarray(0, -1), Buffer.from(eol, "latin1")]),
    expect: [frameExpect(f)],
  };
};
/** A log line as ESP-IDF writes it (CRLF), expected back without the CRLF. */
export const log = (text: string, eol = "\r\n"): Piece => ({
  wire: Buffer.from(text + eol, "utf8"),
  expect: text ? [{ kind: "log", text }] : [],
});
/** Bytes with an explicit expectation. */
export const raw = (wire: Buffer | string, ...expect: Expect[]): Piece => ({
  wire: Buffer.isBuffer(wire) ? wire : Buffer.from(wire, "latin1"),
  expect,
});
export const err = (error: string): Expect => ({ kind: "error", error });

export const GREEN = "\x1b[0;32m";
export const YELLOW = "\x1b[0;33m";
export const RED = "\x1b[0;31m";
export const RESET = "\x1b[0m";

export const ROM_BANNER = [
  "ets Jun  8 2016 00:22:57",
  "",
  "rst:0x1 (POWERON_RESET),boot:0x13 (SPI_FAST_FLASH_BOOT)",
  "configsip: 0, SPIWP:0xee",
  "clk_drv:0x00,q_drv:0x00,d_drv:0x00,cs0_drv:0x00,hd_drv:0x00,wp_drv:0x00",
  "mode:DIO, clock div:2",
  "load:0x3fff0030,len:7112",
  "load:0x40078000,len:15624",
  "load:0x40080400,len:4",
  "ho 8 tail 4 room 4",
  "load:0x40080404,len:3876",
  "entry 0x4008064c",
];

export const IDF_LINES = [
  `${GREEN}I (29) boot: ESP-IDF v5.2.1 2nd stage bootloader${RESET}`,
  `${GREEN}I (29) boot: compile time Nov 27 2026 07:12:44${RESET}`,
  `${GREEN}I (31) boot: Multicore bootloader${RESET}`,
  `${GREEN}I (35) boot: chip revision: v3.0${RESET}`,
  `${GREEN}I (269) cpu_start: Pro cpu start user code${RESET}`,
  `${GREEN}I (269) cpu_start: cpu freq: 160000000 Hz${RESET}`,
  `${GREEN}I (303) spi_flash: detected chip: generic${RESET}`,
  `${YELLOW}W (309) spi_flash: Detected size(4096k) larger than the size in the binary image header(2048k). Using the size in the binary image header.${RESET}`,
  `${GREEN}I (329) main_task: Started on CPU0${RESET}`,
  `${GREEN}I (339) prov: provisioning core ready, protocol 1${RESET}`,
  `${GREEN}I (1234) wifi:wifi driver task: 3ffc1e4c, prio:23, stack:6656, core=0${RESET}`,
  `${GREEN}I (1250) wifi:wifi firmware version: 3ce09e5${RESET}`,
  `${RED}E (2210) esp-tls-mbedtls: mbedtls_ssl_handshake returned -0x7780${RESET}`,
];

export const ok = (t: number, seq: number, payload: Buffer): Frame => ({
  version: 1,
  type: t,
  seq,
  flags: FLAG_RESPONSE,
  payload,
});
export const helloFrame = ok(MSG.HELLO, 1, encodeOkResponse("HELLO", helloAnswer));
export const statusFrame = ok(MSG.STATUS, 2, encodeOkResponse("STATUS", { state: DEVICE_STATE.KEYED }));
export const bootEvent: Frame = {
  version: 1,
  type: MSG.EVENT,
  seq: 1,
  flags: 0,
  payload: encodeEvent({ code: EVENT_CODE.BOOT, text: "boot" }),
};
export const pingReq: Frame = {
  version: 1,
  type: MSG.PING,
  seq: 9,
  flags: 0,
  payload: encodeRequest("PING", { data: Buffer.from("hi") }),
};

export function b64Line(body: Buffer): Buffer {
  return Buffer.from(`\x1e${body.toString("base64")}\n`, "latin1");
}
/** Appends a correct CRC, so only the property under test is wrong. */
export function withCrc(body: Buffer): Buffer {
  const b = Buffer.concat([body, Buffer.alloc(4)]);
  b.writeUInt32BE(crc32(body), b.length - 4);
  return b;
}
export const goodBody = encodeFrameBody(statusFrame);
export const badCrcBody = Buffer.from(goodBody);
badCrcBody[badCrcBody.length - 1] = (badCrcBody[badCrcBody.length - 1] as number) ^ 0x01;
export const flippedPayloadBody = Buffer.from(goodBody);
flippedPayloadBody[5] = (flippedPayloadBody[5] as number) ^ 0x80;
export const v2Body = encodeFrameBody({
  version: 2,
  type: MSG.HELLO,
  seq: 0x1234,
  flags: 0,
  payload: Buffer.from("01000102", "hex"),
});
export const v0Body = encodeFrameBody({
  version: 0,
  type: MSG.STATUS,
  seq: 7,
  flags: 1,
  payload: Buffer.alloc(0),
});
// Largest legal body (2048) and one byte more: the latter still fits FRAME_LINE_MAX, so the decoder says oversize.
export const maxBody = encodeFrameBody({
  version: 1,
  type: MSG.PING,
  seq: 3,
  flags: 0,
  payload: prng(21)(2048 - 9),
});
export const overBody = withCrc(Buffer.concat([Buffer.from([1, MSG.PING, 0, 3, 0]), prng(22)(2049 - 9)]));
export const maxFrameObj = { version: 1, type: MSG.PING, seq: 3, flags: 0, payload: maxBody.subarray(5, -4) };
