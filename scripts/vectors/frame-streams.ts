import { encodeFrame, MSG } from "../../src/protocol/index.js";
import {
  b64Line,
  badCrcBody,
  bootEvent,
  err,
  flippedPayloadBody,
  frame,
  frameExpect,
  GREEN,
  goodBody,
  helloFrame,
  IDF_LINES,
  log,
  maxFrameObj,
  overBody,
  type Piece,
  pingReq,
  RESET,
  ROM_BANNER,
  raw,
  statusFrame,
  v0Body,
  v2Body,
} from "./frame-pieces.js";

export const streams: { name: string; pieces: Piece[] }[] = [
  { name: "single frame: HELLO response", pieces: [frame(helloFrame)] },
  { name: "frame ended by CRLF", pieces: [frame(statusFrame, "\r\n")] },
  {
    name: "CR inside a frame line is ignored",
    pieces: [
      raw(
        Buffer.concat([
          encodeFrame(pingReq).subarray(0, 6),
          Buffer.from("\r"),
          encodeFrame(pingReq).subarray(6),
        ]),
        frameExpect(pingReq),
      ),
    ],
  },
  {
    name: "ROM boot banner, ESP-IDF boot log with colours, BOOT event, HELLO response",
    pieces: [
      ...ROM_BANNER.map((l) => log(l)),
      ...IDF_LINES.slice(0, 10).map((l) => log(l)),
      frame(bootEvent),
      log(IDF_LINES[10] as string),
      frame(helloFrame),
      log(IDF_LINES[11] as string),
    ],
  },
  {
    name: "log line and frame on the same line",
    pieces: [
      raw(`${GREEN}I (1234) wifi: connected${RESET}`, {
        kind: "log",
        text: `${GREEN}I (1234) wifi: connected${RESET}`,
      }),
      frame(statusFrame),
      log("I (1240) after"),
    ],
  },
  {
    name: "log text ending in CR directly before a frame keeps the CR",
    pieces: [raw("I (7) partial\r", { kind: "log", text: "I (7) partial\r" }), frame(statusFrame)],
  },
  {
    name: "empty lines and bare CRLFs are dropped",
    pieces: [raw("\n\r\n\n"), log("I (1) x"), raw("\r\n"), frame(statusFrame)],
  },
  { name: "log line with LF only", pieces: [log("plain line", "\n"), frame(statusFrame)] },
  { name: "UTF-8 log text", pieces: [log("I (55) prov: O=株式会社テスト CN=esp32 ✓"), frame(statusFrame)] },
  {
    name: "log line longer than LOG_LINE_MAX is split in 1024-byte pieces",
    pieces: [
      raw(
        `${"a".repeat(1024)}${"b".repeat(1024)}cc\r\n`,
        { kind: "log", text: "a".repeat(1024) },
        { kind: "log", text: "b".repeat(1024) },
        { kind: "log", text: "cc" },
      ),
      raw(`${"d".repeat(1024)}\r\n`, { kind: "log", text: "d".repeat(1024) }),
      frame(statusFrame),
    ],
  },
  {
    name: "bad CRC (CRC byte flipped), then a good frame",
    pieces: [raw(b64Line(badCrcBody), err("bad_crc")), frame(statusFrame)],
  },
  {
    name: "bad CRC (payload bit flipped)",
    pieces: [raw(b64Line(flippedPayloadBody), err("bad_crc")), frame(statusFrame)],
  },
  {
    name: "truncated: 8-byte body",
    pieces: [raw(b64Line(goodBody.subarray(0, 8)), err("truncated")), frame(statusFrame)],
  },
  { name: "truncated: empty frame line", pieces: [raw("\x1e\n", err("truncated")), frame(statusFrame)] },
  {
    name: "bad base64: length not a multiple of 4",
    pieces: [raw("\x1eAQIAAgEAB\n", err("bad_base64")), frame(statusFrame)],
  },
  {
    name: "bad base64: padding in the middle",
    pieces: [raw("\x1eAQ==AgEA\n", err("bad_base64")), frame(statusFrame)],
  },
  {
    name: "bad base64: three padding characters",
    pieces: [raw("\x1eAQIAA===\n", err("bad_base64")), frame(statusFrame)],
  },
  {
    name: "bad char: a coloured log line cuts into a frame",
    pieces: [
      raw(
        Buffer.concat([
          encodeFrame(helloFrame).subarray(0, 20),
          Buffer.from(`${GREEN}I (4000) wifi: sta start${RESET}\r\n`),
        ]),
        err("bad_char"),
        { kind: "log", text: `${GREEN}I (4000) wifi: sta start${RESET}` },
      ),
      frame(statusFrame),
    ],
  },
  {
    name: "bad char: uncoloured log line cuts into a frame (its 'I' joins the frame)",
    pieces: [
      raw(
        Buffer.concat([encodeFrame(helloFrame).subarray(0, 12), Buffer.from("I (4001) x\r\n")]),
        err("bad_char"),
        { kind: "log", text: " (4001) x" },
      ),
      frame(statusFrame),
    ],
  },
  {
    name: "bad char: a new start marker inside a frame starts a new frame",
    pieces: [raw(encodeFrame(helloFrame).subarray(0, 30), err("bad_char")), frame(statusFrame)],
  },
  { name: "two start markers in a row", pieces: [raw("\x1e", err("bad_char")), frame(statusFrame)] },
  {
    name: "oversize: frame line over FRAME_LINE_MAX, skipped to the newline",
    pieces: [
      raw(`\x1e${"A".repeat(2737)}${"B".repeat(100)}\n`, err("oversize")),
      log("I (9) next"),
      frame(statusFrame),
    ],
  },
  {
    name: "oversize: skipped line ended by a start marker",
    pieces: [raw(`\x1e${"QUJD".repeat(700)}`, err("oversize")), frame(statusFrame)],
  },
  { name: "largest frame body (2048 bytes)", pieces: [frame(maxFrameObj)] },
  {
    name: "oversize: body of 2049 bytes within FRAME_LINE_MAX",
    pieces: [raw(b64Line(overBody), err("oversize")), frame(statusFrame)],
  },
  {
    name: "unknown version 2",
    pieces: [
      raw(b64Line(v2Body), { kind: "error", error: "bad_version", version: 2, type: MSG.HELLO, seq: 0x1234 }),
      frame(statusFrame),
    ],
  },
  {
    name: "unknown version 0",
    pieces: [
      raw(b64Line(v0Body), { kind: "error", error: "bad_version", version: 0, type: MSG.STATUS, seq: 7 }),
    ],
  },
  {
    name: "reserved flag bits are passed through",
    pieces: [
      frame({ version: 1, type: MSG.STATUS, seq: 2, flags: 0xfd, payload: Buffer.from("0007000101", "hex") }),
    ],
  },
  {
    name: "binary noise without markers becomes log text",
    pieces: [
      raw(Buffer.from("I (1) \x01\x02\x7f~ok\r\n", "latin1"), { kind: "log", text: "I (1) \x01\x02\x7f~ok" }),
      frame(statusFrame),
    ],
  },
  {
    name: "invalid UTF-8 in log text is replaced",
    pieces: [
      raw(Buffer.from([0x49, 0x20, 0xff, 0xfe, 0x41, 0x0d, 0x0a]), { kind: "log", text: "I \ufffd\ufffdA" }),
      frame(statusFrame),
    ],
  },
  {
    name: "trailing partial log line is not emitted",
    pieces: [frame(statusFrame), raw("I (5) no newline yet")],
  },
];
