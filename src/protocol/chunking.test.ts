import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ChunkReassembler, type ReassemblyStep, splitIntoChunks } from "./chunking.js";
import { MSG, STATUS } from "./constants.js";

describe("chunking", () => {
  it("splits and reassembles any payload for any max frame, each chunk within the frame (300 cases)", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 1, maxLength: 8192, size: "max" }),
        fc.integer({ min: 256, max: 2048 }),
        (p, maxFrame) => {
          const chunks = splitIntoChunks(p, maxFrame);
          const r = new ChunkReassembler();
          let last: ReassemblyStep | undefined;
          for (const c of chunks) {
            expect(c.length + 9).toBeLessThanOrEqual(maxFrame);
            last = r.accept(MSG.WRITE_CREDENTIALS, c);
          }
          expect(last).toEqual({ kind: "complete", type: MSG.WRITE_CREDENTIALS, payload: Buffer.from(p) });
        },
      ),
      { numRuns: 300 },
    );
  });

  it("answers ERR_CHUNK for a gap, a changed total or no first chunk, and ERR_DIGEST for a wrong digest", () => {
    const p = Buffer.alloc(1000, 7);
    const c = splitIntoChunks(p, 256);
    const r = new ChunkReassembler();
    expect(r.accept(MSG.WRITE_CREDENTIALS, c[1] as Buffer)).toMatchObject({
      kind: "error",
      status: STATUS.ERR_CHUNK,
    });
    r.accept(MSG.WRITE_CREDENTIALS, c[0] as Buffer);
    expect(r.accept(MSG.WRITE_CREDENTIALS, c[2] as Buffer)).toMatchObject({
      kind: "error",
      status: STATUS.ERR_CHUNK,
    });
    // After an error the host starts again at offset 0, which works.
    let step: ReassemblyStep | undefined;
    for (const x of c) step = r.accept(MSG.WRITE_CREDENTIALS, x);
    expect(step).toMatchObject({ kind: "complete" });
    const changed = Buffer.from(c[1] as Buffer);
    changed.writeUInt32BE(999, 4);
    r.accept(MSG.WRITE_CREDENTIALS, c[0] as Buffer);
    expect(r.accept(MSG.WRITE_CREDENTIALS, changed)).toMatchObject({
      kind: "error",
      status: STATUS.ERR_CHUNK,
    });
    const tampered = c.map((x) => Buffer.from(x));
    const lastChunk = tampered.at(-1) as Buffer;
    lastChunk[10] = (lastChunk[10] as number) ^ 1;
    for (const x of tampered) step = r.accept(MSG.WRITE_CREDENTIALS, x);
    expect(step).toMatchObject({ kind: "error", status: STATUS.ERR_DIGEST });
  });

  it("rejects a total over PAYLOAD_MAX and a too-short chunk", () => {
    const head = Buffer.alloc(41);
    head.writeUInt32BE(8193, 4);
    const r = new ChunkReassembler();
    expect(r.accept(MSG.WRITE_CREDENTIALS, head)).toMatchObject({
      kind: "error",
      status: STATUS.ERR_TOO_LARGE,
    });
    expect(r.accept(MSG.WRITE_CREDENTIALS, Buffer.alloc(20))).toMatchObject({
      kind: "error",
      status: STATUS.ERR_BAD_PAYLOAD,
    });
    expect(() => splitIntoChunks(Buffer.alloc(8193), 2048)).toThrow(TypeError);
    expect(() => splitIntoChunks(Buffer.alloc(10), 255)).toThrow(TypeError);
  });
});
