/**
 * The shared vectors (test/vectors, docs/protocol.md section 8) against the
 * TypeScript codecs: the C core reads the same files.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  ChunkReassembler,
  type CommandName,
  decodeChunkAck,
  decodeEvent,
  decodeRequest,
  decodeResponse,
  decodeTlv,
  EVENT_FIELDS,
  encodeChunkAck,
  encodeErrorResponse,
  encodeEvent,
  encodeFrame,
  encodeOkResponse,
  encodeRequest,
  FLAG_CHUNK,
  FrameReceiver,
  fieldsFromJson,
  fieldsToJson,
  MESSAGE_FIELDS,
  type ReceiverEvent,
  splitIntoChunks,
} from "../src/protocol/index.js";

const dir = join(import.meta.dirname, "vectors");
const load = <T>(f: string): T[] =>
  (JSON.parse(readFileSync(join(dir, f), "utf8")) as { vectors: T[] }).vectors;

interface FrameVector {
  name: string;
  wire_hex: string;
  expect: Record<string, unknown>[];
}
interface MessageVector {
  name: string;
  kind: "request" | "response" | "error" | "event" | "chunk_ack";
  command: string;
  type: number;
  flags: number;
  payload_hex: string;
  tlv: { status?: number; fields: { tag: number; hex: string }[] };
  fields: Record<string, unknown>;
}
interface ChunkVector {
  name: string;
  type: number;
  max_frame: number;
  payload_hex: string;
  frames_hex: string[];
}

function view(events: ReceiverEvent[]): Record<string, unknown>[] {
  return events.map((e) => {
    if (e.kind === "frame") {
      const { version, type, seq, flags, payload } = e.frame;
      return { kind: "frame", version, type, seq, flags, payload_hex: payload.toString("hex") };
    }
    if (e.kind === "log") return { kind: "log", text: e.text };
    return e.error === "bad_version"
      ? { kind: "error", error: e.error, version: e.version, type: e.type, seq: e.seq }
      : { kind: "error", error: e.error };
  });
}

describe("frames.json", () => {
  const vectors = load<FrameVector>("frames.json");
  it("has the coverage the spec asks for", () => {
    const errors = new Set(
      vectors.flatMap((v) => v.expect.filter((e) => e.kind === "error").map((e) => e.error)),
    );
    expect([...errors].sort()).toEqual([
      "bad_base64",
      "bad_char",
      "bad_crc",
      "bad_version",
      "oversize",
      "truncated",
    ]);
    expect(vectors.filter((v) => v.name.startsWith("literal:")).length).toBeGreaterThanOrEqual(3);
  });
  it.each(vectors.map((v) => [v.name, v] as const))("%s", (_n, v) => {
    const wire = Buffer.from(v.wire_hex, "hex");
    expect(view(new FrameReceiver().push(wire))).toEqual(v.expect);
    const r = new FrameReceiver();
    const bytewise: ReceiverEvent[] = [];
    for (const b of wire) bytewise.push(...r.push(Uint8Array.of(b)));
    expect(view(bytewise)).toEqual(v.expect);
    // Every expected frame re-encodes to line bytes present in the wire (CRLF-ended ones end in LF here).
    for (const e of v.expect.filter((x) => x.kind === "frame")) {
      const line = encodeFrame({
        version: e.version as number,
        type: e.type as number,
        seq: e.seq as number,
        flags: e.flags as number,
        payload: Buffer.from(e.payload_hex as string, "hex"),
      });
      const withoutCr = Buffer.from(wire.toString("latin1").replaceAll("\r", ""), "latin1");
      expect(withoutCr.includes(line)).toBe(true);
    }
  });
});

describe("messages.json", () => {
  const vectors = load<MessageVector>("messages.json");
  it("covers every message type", () => {
    const kinds = new Set(vectors.map((v) => `${v.command}/${v.kind}`));
    for (const c of Object.keys(MESSAGE_FIELDS)) {
      expect(kinds.has(`${c}/request`)).toBe(true);
      expect(kinds.has(`${c}/response`)).toBe(true);
    }
    expect(vectors.some((v) => v.kind === "event")).toBe(true);
    expect(vectors.filter((v) => v.kind === "error").length).toBeGreaterThanOrEqual(5);
  });
  it.each(vectors.map((v) => [v.name, v] as const))("%s", (_n, v) => {
    const payload = Buffer.from(v.payload_hex, "hex");
    // Generic TLV view.
    const tlvBytes = v.tlv.status === undefined ? payload : payload.subarray(1);
    if (v.tlv.status !== undefined) expect(payload[0]).toBe(v.tlv.status);
    const tlv = decodeTlv(tlvBytes);
    expect(tlv.ok && tlv.fields.map((f) => ({ tag: f.tag, hex: f.value.toString("hex") }))).toEqual(
      v.tlv.fields,
    );
    // Typed view, both directions.
    const cmd = v.command as CommandName;
    switch (v.kind) {
      case "request": {
        const d = decodeRequest(cmd, payload);
        expect(d.ok && fieldsToJson(d.value)).toEqual(v.fields);
        const typed = fieldsFromJson(MESSAGE_FIELDS[cmd].request, v.fields);
        expect(encodeRequest(cmd, typed as never).toString("hex")).toBe(v.payload_hex);
        break;
      }
      case "response": {
        const d = decodeResponse(cmd, payload);
        expect(d.ok && d.value.ok && { ok: true, fields: fieldsToJson(d.value.fields) }).toEqual(v.fields);
        const typed = fieldsFromJson(
          MESSAGE_FIELDS[cmd].response,
          v.fields.fields as Record<string, unknown>,
        );
        expect(encodeOkResponse(cmd, typed as never).toString("hex")).toBe(v.payload_hex);
        break;
      }
      case "error": {
        const d = decodeResponse(cmd, payload);
        expect(d.ok && d.value).toEqual(v.fields);
        expect(encodeErrorResponse(v.fields.status as number, v.fields.text as string).toString("hex")).toBe(
          v.payload_hex,
        );
        break;
      }
      case "event": {
        const d = decodeEvent(payload);
        expect(d.ok && fieldsToJson(d.value)).toEqual(v.fields);
        expect(encodeEvent(fieldsFromJson(EVENT_FIELDS, v.fields) as never).toString("hex")).toBe(
          v.payload_hex,
        );
        break;
      }
      case "chunk_ack": {
        const d = decodeChunkAck(payload);
        expect(d.ok && d.value).toEqual(v.fields);
        expect(v.flags).toBe(3);
        const received = (v.fields.fields as { received: number }).received;
        expect(encodeChunkAck(received).toString("hex")).toBe(v.payload_hex);
        break;
      }
    }
  });
});

describe("chunks.json", () => {
  const vectors = load<ChunkVector>("chunks.json");
  it.each(vectors.map((v) => [v.name, v] as const))("%s", (_n, v) => {
    const payload = Buffer.from(v.payload_hex, "hex");
    const lines = splitIntoChunks(payload, v.max_frame).map((c, i) =>
      encodeFrame({ version: 1, type: v.type, seq: i + 1, flags: FLAG_CHUNK, payload: c }).toString("hex"),
    );
    expect(lines).toEqual(v.frames_hex);
    // Feeding the frames (byte at a time) through a receiver and a reassembler gives the payload back.
    const rx = new FrameReceiver();
    const re = new ChunkReassembler();
    const steps = [];
    for (const b of Buffer.from(v.frames_hex.join(""), "hex")) {
      for (const e of rx.push(Uint8Array.of(b))) {
        expect(e.kind).toBe("frame");
        if (e.kind === "frame") {
          expect(e.frame.payload.length + 9).toBeLessThanOrEqual(v.max_frame);
          steps.push(re.accept(e.frame.type, e.frame.payload));
        }
      }
    }
    expect(steps.length).toBe(v.frames_hex.length);
    const last = steps.at(-1);
    expect(last?.kind === "complete" && last.payload.equals(payload)).toBe(true);
    expect(steps.slice(0, -1).every((s) => s.kind === "progress")).toBe(true);
  });
});
