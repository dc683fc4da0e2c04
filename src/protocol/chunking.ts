/**
 * Chunking (docs/protocol.md section 4): a payload too large for one frame
 * travels as CHUNK frames carrying offset, total, (first chunk) SHA-256 of
 * the whole payload, and data. Pure; the reassembler never throws.
 */
import type * as Crypto from "node:crypto";
import { requireCommonJs } from "../require-commonjs.js";
import {
  FRAME_BODY_MAX,
  FRAME_BODY_MIN,
  FRAME_OVERHEAD_BYTES,
  PAYLOAD_MAX,
  SHA256_BYTES,
  STATUS,
} from "./constants.js";

const CHUNK_HEADER_BYTES = 8;

/**
 * node:crypto is loaded at the first digest, not with the protocol: a HELLO
 * needs none, and loading it costs milliseconds of every start
 * (docs/performance.md, start-up).
 */
export function sha256(bytes: Uint8Array | string): Buffer {
  nodeCrypto ??= requireCommonJs("node:crypto") as typeof Crypto;
  return nodeCrypto.createHash("sha256").update(bytes).digest();
}
let nodeCrypto: typeof Crypto | undefined;

/** Largest payload that fits one frame body of `maxFrame` bytes. */
export function maxPayloadForFrame(maxFrame: number): number {
  return maxFrame - FRAME_OVERHEAD_BYTES;
}

/** True when the payload must be chunked for this max frame body. */
export function needsChunking(payloadLength: number, maxFrame: number): boolean {
  return payloadLength > maxPayloadForFrame(maxFrame);
}

/** Bytes of the payload a chunk from splitIntoChunks carries (the first one also carries the digest). */
export function chunkDataLength(chunk: Uint8Array, first: boolean): number {
  return chunk.length - CHUNK_HEADER_BYTES - (first ? SHA256_BYTES : 0);
}

/**
 * Chunk payloads (each to go in its own CHUNK frame) for a max frame body of
 * `maxFrame` bytes. Throws TypeError for an empty payload, one over
 * PAYLOAD_MAX, or a maxFrame outside 256..2048.
 */
export function splitIntoChunks(payload: Uint8Array, maxFrame: number): Buffer[] {
  if (!Number.isInteger(maxFrame) || maxFrame < FRAME_BODY_MIN || maxFrame > FRAME_BODY_MAX) {
    throw new TypeError(`maxFrame must be ${FRAME_BODY_MIN}..${FRAME_BODY_MAX}, got ${maxFrame}`);
  }
  if (payload.length < 1 || payload.length > PAYLOAD_MAX) {
    throw new TypeError(`chunked payload must be 1..${PAYLOAD_MAX} bytes, got ${payload.length}`);
  }
  const room = maxPayloadForFrame(maxFrame) - CHUNK_HEADER_BYTES;
  const digest = sha256(payload);
  const chunks: Buffer[] = [];
  let offset = 0;
  while (offset < payload.length) {
    const first = offset === 0;
    const n = Math.min(payload.length - offset, first ? room - SHA256_BYTES : room);
    const head = Buffer.alloc(CHUNK_HEADER_BYTES);
    head.writeUInt32BE(offset, 0);
    head.writeUInt32BE(payload.length, 4);
    chunks.push(
      Buffer.concat([head, first ? digest : Buffer.alloc(0), payload.subarray(offset, offset + n)]),
    );
    offset += n;
  }
  return chunks;
}

export interface ChunkHeader {
  offset: number;
  total: number;
  /** Present only in the chunk at offset 0. */
  digest?: Buffer;
  data: Buffer;
}

export type ChunkParse = { ok: true; chunk: ChunkHeader } | { ok: false; status: number; detail: string };

export function parseChunk(payload: Uint8Array): ChunkParse {
  const b = Buffer.from(payload.buffer, payload.byteOffset, payload.length);
  if (b.length < CHUNK_HEADER_BYTES + 1)
    return { ok: false, status: STATUS.ERR_BAD_PAYLOAD, detail: `chunk of ${b.length} bytes is too short` };
  const offset = b.readUInt32BE(0);
  const total = b.readUInt32BE(4);
  if (offset === 0) {
    if (b.length < CHUNK_HEADER_BYTES + SHA256_BYTES + 1) {
      return {
        ok: false,
        status: STATUS.ERR_BAD_PAYLOAD,
        detail: `first chunk of ${b.length} bytes has no room for digest and data`,
      };
    }
    return {
      ok: true,
      chunk: {
        offset,
        total,
        digest: Buffer.from(b.subarray(8, 8 + SHA256_BYTES)),
        data: Buffer.from(b.subarray(8 + SHA256_BYTES)),
      },
    };
  }
  return { ok: true, chunk: { offset, total, data: Buffer.from(b.subarray(8)) } };
}

export type ReassemblyStep =
  | { kind: "progress"; received: number }
  | { kind: "complete"; type: number; payload: Buffer }
  | { kind: "error"; status: number; detail: string };

/** One reassembly per link (section 4). */
export class ChunkReassembler {
  private type = -1;
  private total = 0;
  private digest: Buffer = Buffer.alloc(0);
  private parts: Buffer[] = [];
  private received = 0;
  private active = false;

  /** Feeds the payload of a CHUNK request frame of message `type`. */
  accept(type: number, payload: Uint8Array): ReassemblyStep {
    const p = parseChunk(payload);
    if (!p.ok) {
      this.reset();
      return { kind: "error", status: p.status, detail: p.detail };
    }
    const c = p.chunk;
    if (c.offset === 0) {
      this.reset();
      if (c.total > PAYLOAD_MAX)
        return {
          kind: "error",
          status: STATUS.ERR_TOO_LARGE,
          detail: `total ${c.total} exceeds ${PAYLOAD_MAX}`,
        };
      this.active = true;
      this.type = type;
      this.total = c.total;
      this.digest = c.digest ?? Buffer.alloc(0);
    } else if (!this.active || c.offset !== this.received || c.total !== this.total || type !== this.type) {
      const detail = !this.active
        ? `chunk at offset ${c.offset} without a first chunk`
        : `chunk at offset ${c.offset}, total ${c.total}, expected offset ${this.received}, total ${this.total}`;
      this.reset();
      return { kind: "error", status: STATUS.ERR_CHUNK, detail };
    }
    if (this.received + c.data.length > this.total) {
      this.reset();
      return { kind: "error", status: STATUS.ERR_CHUNK, detail: `chunk data runs past total ${c.total}` };
    }
    this.parts.push(c.data);
    this.received += c.data.length;
    if (this.received < this.total) return { kind: "progress", received: this.received };
    const whole = Buffer.concat(this.parts);
    const digest = this.digest;
    const t = this.type;
    this.reset();
    if (!sha256(whole).equals(digest))
      return {
        kind: "error",
        status: STATUS.ERR_DIGEST,
        detail: "reassembled payload does not match its SHA-256",
      };
    return { kind: "complete", type: t, payload: whole };
  }

  reset(): void {
    this.active = false;
    this.type = -1;
    this.total = 0;
    this.received = 0;
    this.parts = [];
    this.digest = Buffer.alloc(0);
  }
}
