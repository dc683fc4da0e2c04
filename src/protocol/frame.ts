/**
 * Frame codec (docs/protocol.md sections 2-3): a frame is one line
 * `0x1E base64(body) 0x0A`, body = version, type, seq, flags, payload, CRC-32.
 * Pure functions; decoding returns errors as values and never throws.
 */
import {
  FRAME_BODY_MAX,
  FRAME_END,
  FRAME_HEADER_BYTES,
  FRAME_OVERHEAD_BYTES,
  FRAME_START,
  PROTOCOL_VERSION,
} from "./constants.js";
import { crc32 } from "./crc.js";

export interface Frame {
  version: number;
  type: number;
  seq: number;
  flags: number;
  payload: Buffer;
}

export type FrameErrorName = "bad_char" | "oversize" | "bad_base64" | "truncated" | "bad_crc" | "bad_version";

export interface FrameError {
  error: FrameErrorName;
  detail: string;
  /** Only for bad_version: the header read from the body, so the device can answer ERR_VERSION. */
  version?: number;
  type?: number;
  seq?: number;
}

export type FrameDecodeResult = { ok: true; frame: Frame } | ({ ok: false } & FrameError);

function checkByte(name: string, v: number, max: number): void {
  if (!Number.isInteger(v) || v < 0 || v > max)
    throw new TypeError(`frame ${name} must be an integer 0..${max}, got ${v}`);
}

/** Body bytes (header + payload + CRC), without the line markers. Throws TypeError on bad arguments. */
export function encodeFrameBody(frame: Frame): Buffer {
  checkByte("version", frame.version, 0xff);
  checkByte("type", frame.type, 0xff);
  checkByte("seq", frame.seq, 0xffff);
  checkByte("flags", frame.flags, 0xff);
  const n = frame.payload.length;
  const body = Buffer.alloc(FRAME_OVERHEAD_BYTES + n);
  body[0] = frame.version;
  body[1] = frame.type;
  body.writeUInt16BE(frame.seq, 2);
  body[4] = frame.flags;
  body.set(frame.payload, FRAME_HEADER_BYTES);
  body.writeUInt32BE(crc32(body.subarray(0, FRAME_HEADER_BYTES + n)), FRAME_HEADER_BYTES + n);
  return body;
}

/**
 * Full line bytes `0x1E .. 0x0A` of a frame. Bodies over FRAME_BODY_MAX are
 * refused (TypeError): the receiver would reject them anyway.
 */
export function encodeFrame(frame: Frame): Buffer {
  const body = encodeFrameBody(frame);
  if (body.length > FRAME_BODY_MAX) {
    throw new TypeError(`frame body of ${body.length} bytes exceeds FRAME_BODY_MAX ${FRAME_BODY_MAX}`);
  }
  const b64 = body.toString("base64");
  const line = Buffer.alloc(b64.length + 2);
  line[0] = FRAME_START;
  line.write(b64, 1, "latin1");
  line[line.length - 1] = FRAME_END;
  return line;
}

/** Bytes a frame with this payload length takes on the wire, markers included. */
export function frameLineLength(payloadLength: number): number {
  return 4 * Math.ceil((payloadLength + FRAME_OVERHEAD_BYTES) / 3) + 2;
}

const B64_VALUE = new Int16Array(256).fill(-1);
for (const [i, c] of [..."ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"].entries()) {
  B64_VALUE[c.charCodeAt(0)] = i;
}

export function isBase64Char(byte: number): boolean {
  return B64_VALUE[byte] !== -1 || byte === 0x3d;
}

/**
 * Strict standard base64 (RFC 4648 with padding). Non-zero trailing bits in
 * the last group are accepted, as mbedtls_base64_decode does, so both sides
 * agree on every input.
 */
export function decodeBase64Strict(chars: Uint8Array): Buffer | null {
  const n = chars.length;
  if (n % 4 !== 0) return null;
  let pad = 0;
  while (pad < n && chars[n - 1 - pad] === 0x3d) pad++;
  if (pad > 2) return null;
  for (let i = 0; i < n - pad; i++) if (B64_VALUE[chars[i] as number] === -1) return null;
  return Buffer.from(Buffer.from(chars.buffer, chars.byteOffset, n).toString("latin1"), "base64");
}

/** Decodes the characters between the markers (CRs already removed), checks in the order of section 3. */
export function decodeFrameLine(chars: Uint8Array): FrameDecodeResult {
  const body = decodeBase64Strict(chars);
  if (body === null)
    return {
      ok: false,
      error: "bad_base64",
      detail: `frame line of ${chars.length} characters is not valid base64`,
    };
  if (body.length < FRAME_OVERHEAD_BYTES) {
    return {
      ok: false,
      error: "truncated",
      detail: `frame body of ${body.length} bytes is shorter than ${FRAME_OVERHEAD_BYTES}`,
    };
  }
  if (body.length > FRAME_BODY_MAX) {
    return {
      ok: false,
      error: "oversize",
      detail: `frame body of ${body.length} bytes exceeds ${FRAME_BODY_MAX}`,
    };
  }
  const crcAt = body.length - 4;
  const want = body.readUInt32BE(crcAt);
  const got = crc32(body.subarray(0, crcAt));
  if (want !== got) {
    return { ok: false, error: "bad_crc", detail: `CRC ${hex32(want)} in frame, ${hex32(got)} computed` };
  }
  const version = body[0] as number;
  const type = body[1] as number;
  const seq = body.readUInt16BE(2);
  if (version !== PROTOCOL_VERSION) {
    return {
      ok: false,
      error: "bad_version",
      detail: `protocol version ${version} (this host speaks ${PROTOCOL_VERSION})`,
      version,
      type,
      seq,
    };
  }
  return {
    ok: true,
    frame: {
      version,
      type,
      seq,
      flags: body[4] as number,
      payload: Buffer.from(body.subarray(FRAME_HEADER_BYTES, crcAt)),
    },
  };
}

function hex32(v: number): string {
  return `0x${v.toString(16).padStart(8, "0")}`;
}
