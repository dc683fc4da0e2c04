import { isDeepStrictEqual } from "node:util";
import { encodeFrame, type Frame, FrameReceiver, type ReceiverEvent } from "../../src/protocol/index.js";
import { type Expect, frameExpect } from "./frame-pieces.js";
import { streams } from "./frame-streams.js";
import { type MessageVector, messages } from "./message-table.js";
import type { Built } from "./messages.js";

// ---- hand-computed vectors -------------------------------------------------
// Bytes computed independently of this code base with python3:
//   body = bytes([v,t]) + seq.to_bytes(2,'big') + bytes([flags]) + payload
//   body += zlib.crc32(body).to_bytes(4,'big'); line = b'\x1e' + base64.b64encode(body) + b'\n'
export const LITERAL: { name: string; hex: string; frame: Frame }[] = [
  {
    name: "literal: PING request seq 1, empty payload",
    hex: "1e41514d4141514477374541430a",
    frame: { version: 1, type: 0x03, seq: 1, flags: 0, payload: Buffer.alloc(0) },
  },
  {
    name: "literal: HELLO request seq 1, host version 1",
    hex: "1e415145414151414241414542494353315a413d3d0a",
    frame: { version: 1, type: 0x01, seq: 1, flags: 0, payload: Buffer.from("01000101", "hex") },
  },
  {
    name: "literal: STATUS response seq 2, state EMPTY",
    hex: "1e41514941416745414277414241507178344c6f3d0a",
    frame: { version: 1, type: 0x02, seq: 2, flags: 1, payload: Buffer.from("0007000100", "hex") },
  },
  {
    name: "literal: EVENT BOOT seq 7, text 'boot'",
    hex: "1e41584141427741424141454241674145596d3976644359564378773d0a",
    frame: {
      version: 1,
      type: 0x70,
      seq: 7,
      flags: 0,
      payload: Buffer.from("01000101020004626f6f74", "hex"),
    },
  },
  {
    name: "literal: GET_CSR error response seq 3, ERR_NO_KEY 'no key'",
    hex: "1e415245414177454641514147626d386761325635545869784b773d3d0a",
    frame: { version: 1, type: 0x11, seq: 3, flags: 1, payload: Buffer.from("050100066e6f206b6579", "hex") },
  },
];
for (const l of LITERAL) {
  const mine = encodeFrame(l.frame).toString("hex");
  if (mine !== l.hex) throw new Error(`${l.name}: encoder gives ${mine}, independent computation ${l.hex}`);
}

// ---- assemble and self-check -----------------------------------------------

export function runReceiver(wire: Buffer, bytewise: boolean): Expect[] {
  const r = new FrameReceiver();
  const events: ReceiverEvent[] = [];
  if (bytewise) for (const b of wire) events.push(...r.push(Buffer.from([b])));
  else events.push(...r.push(wire));
  return events.map((e): Expect => {
    if (e.kind === "frame") return frameExpect(e.frame);
    if (e.kind === "log") return { kind: "log", text: e.text };
    return e.error === "bad_version"
      ? { kind: "error", error: e.error, version: e.version, type: e.type, seq: e.seq }
      : { kind: "error", error: e.error };
  });
}

/** Every frame vector (literal, golden from the messages, streams), checked against our receiver whole and bytewise. */
export function frameVectors(builtMessages: Built[]): { name: string; wire_hex: string; expect: Expect[] }[] {
  const frameVectors: { name: string; wire_hex: string; expect: Expect[] }[] = [];
  for (const l of LITERAL)
    frameVectors.push({ name: l.name, wire_hex: l.hex, expect: [frameExpect(l.frame)] });
  for (const [i, b] of builtMessages.entries()) {
    frameVectors.push({
      name: `golden: ${(messages[i] as MessageVector).name}`,
      wire_hex: encodeFrame(b.frame).toString("hex"),
      expect: [frameExpect(b.frame)],
    });
  }
  for (const s of streams) {
    const wire = Buffer.concat(s.pieces.map((p) => p.wire));
    frameVectors.push({
      name: s.name,
      wire_hex: wire.toString("hex"),
      expect: s.pieces.flatMap((p) => p.expect),
    });
  }
  for (const v of frameVectors) {
    const wire = Buffer.from(v.wire_hex, "hex");
    for (const bytewise of [false, true]) {
      const got = runReceiver(wire, bytewise);
      if (!isDeepStrictEqual(got, v.expect)) {
        throw new Error(
          `frames "${v.name}" (${bytewise ? "bytewise" : "whole"}): receiver gives ${JSON.stringify(got)}, description says ${JSON.stringify(v.expect)}`,
        );
      }
    }
  }
  return frameVectors;
}
