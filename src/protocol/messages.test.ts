import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { STATUS } from "./constants.js";
import {
  type CommandName,
  decodeChunkAck,
  decodeEvent,
  decodeFields,
  decodeRequest,
  decodeResponse,
  encodeErrorResponse,
  encodeOkResponse,
  encodeRequest,
  type FieldSpec,
  MESSAGE_FIELDS,
} from "./messages.js";
import { decodeTlv, encodeTlv } from "./tlv.js";

const COMMANDS = Object.keys(MESSAGE_FIELDS) as CommandName[];

/** A random value for one field spec (UTF-8 strings without NUL, exact sizes for fixed bytes). */
function valueArb(s: FieldSpec): fc.Arbitrary<unknown> {
  switch (s.kind) {
    case "u8":
      return fc.integer({ min: 0, max: 0xff });
    case "u16":
      return fc.integer({ min: 0, max: 0xffff });
    case "u32":
      return fc.integer({ min: 0, max: 0xffffffff });
    case "bool":
      return fc.boolean();
    case "str":
      return fc.string({ unit: "grapheme", maxLength: 40 }).map((x) => x.replaceAll("\0", ""));
    case "bytes":
      return fc
        .uint8Array(
          s.size !== undefined ? { minLength: s.size, maxLength: s.size } : { maxLength: s.max ?? 300 },
        )
        .map((u) => Buffer.from(u));
    case "u8list":
      return fc.array(fc.integer({ min: 0, max: 0xff }), { maxLength: 8 });
    case "u32list":
      return fc.array(fc.integer({ min: 0, max: 0xffffffff }), { maxLength: 8 });
  }
}

function fieldsArb(specs: readonly FieldSpec[]): fc.Arbitrary<Record<string, unknown>> {
  const model: Record<string, fc.Arbitrary<unknown>> = {};
  for (const s of specs) model[s.name] = valueArb(s);
  const required = specs.filter((s) => s.required).map((s) => s.name);
  return fc.record(model, { requiredKeys: required }) as fc.Arbitrary<Record<string, unknown>>;
}

describe("message codec properties", () => {
  it("round-trips random requests and responses of every command (11 x 2 x 200 cases)", () => {
    for (const c of COMMANDS) {
      fc.assert(
        fc.property(fieldsArb(MESSAGE_FIELDS[c].request), (f) => {
          const d = decodeRequest(c, encodeRequest(c, f as never));
          expect(d).toEqual({ ok: true, value: f });
        }),
        { numRuns: 200 },
      );
      fc.assert(
        fc.property(fieldsArb(MESSAGE_FIELDS[c].response), (f) => {
          const d = decodeResponse(c, encodeOkResponse(c, f as never));
          expect(d).toEqual({ ok: true, value: { ok: true, fields: f } });
        }),
        { numRuns: 200 },
      );
    }
  });

  it("decoders never throw on arbitrary payloads (2000 cases)", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300, size: "max" }), fc.constantFrom(...COMMANDS), (p, c) => {
        const results = [
          decodeRequest(c, p),
          decodeResponse(c, p),
          decodeEvent(p),
          decodeChunkAck(p),
          decodeTlv(p),
        ];
        for (const r of results) expect(typeof r.ok).toBe("boolean");
      }),
      { numRuns: 2000 },
    );
  });

  it("decodes fields in any order and ignores unknown tags", () => {
    fc.assert(
      fc.property(
        fc.shuffledSubarray([0, 1, 2, 3]),
        fc.integer({ min: 0x40, max: 0xff }),
        (order, unknown) => {
          const fields = [
            { tag: 0x01, value: Buffer.from([3]) },
            { tag: 0x02, value: Buffer.from([1]) },
            { tag: 0x03, value: Buffer.from([1]) },
            { tag: unknown, value: Buffer.from("future") },
          ];
          const wire = Buffer.concat(
            order.map((i) => {
              const f = fields[i] as { tag: number; value: Buffer };
              return encodeTlv([f]);
            }),
          );
          const d = decodeRequest("GENERATE_KEY", wire);
          if (order.includes(0) && order.includes(1)) expect(d.ok).toBe(true);
          else expect(d).toMatchObject({ ok: false, status: STATUS.ERR_BAD_PAYLOAD });
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe("message codec errors", () => {
  it("rejects overrunning lengths, wrong integer sizes, missing fields and bad UTF-8", () => {
    const bad = (p: string) => decodeRequest("SET_BAUD", Buffer.from(p, "hex"));
    expect(bad("010004000e10")).toMatchObject({ ok: false, status: STATUS.ERR_BAD_PAYLOAD }); // overrun
    expect(bad("0100020e10")).toMatchObject({ ok: false, status: STATUS.ERR_BAD_PAYLOAD }); // u32 in 2 bytes
    expect(bad("")).toMatchObject({ ok: false, status: STATUS.ERR_BAD_PAYLOAD }); // missing
    // A repeated tag: the first occurrence counts, the later one is not even checked.
    expect(bad("01000400000e1001000200ff")).toEqual({ ok: true, value: { baud: 3600 } });
    expect(decodeRequest("LOCK", Buffer.from("010002c328", "hex"))).toMatchObject({ ok: false }); // invalid UTF-8
    expect(decodeRequest("LOCK", Buffer.from("0100024c00", "hex"))).toMatchObject({ ok: false }); // NUL
    expect(decodeResponse("COMMIT", Buffer.alloc(0))).toMatchObject({ ok: false });
    const spec: FieldSpec[] = [{ tag: 1, name: "d", kind: "bytes", size: 32 }];
    expect(decodeFields(spec, Buffer.from("01000100", "hex"))).toMatchObject({ ok: false });
  });

  it("throws TypeError naming the field for bad encoder arguments", () => {
    expect(() => encodeRequest("SET_BAUD", { baud: -1 })).toThrow(/baud/);
    expect(() => encodeRequest("GENERATE_KEY", { keyType: 1 } as never)).toThrow(/keyStore/);
    expect(() => encodeRequest("PING", { data: Buffer.alloc(65) })).toThrow(/64/);
    expect(() => encodeRequest("STATUS", { extra: 1 } as never)).toThrow(/unknown field extra/);
  });

  it("cuts an error text to 96 bytes on a character boundary", () => {
    const p = encodeErrorResponse(STATUS.ERR_WRONG_STATE, "ü".repeat(60));
    const d = decodeResponse("LOCK", p);
    expect(d.ok && !d.value.ok && d.value.text).toBe("ü".repeat(48));
    expect(d.ok && !d.value.ok && d.value.error).toBe("ERR_WRONG_STATE");
  });
});
