/**
 * Generic TLV field encoding (docs/protocol.md section 5.2): one spec per
 * field (tag, kind, limits), values <-> bytes, and the JSON view the
 * vectors and `--json` use. Encoders throw TypeError on bad arguments;
 * decoders never throw and return the status a device would answer with.
 */
import { STATUS } from "./constants.js";
import { decodeTlv, encodeTlv, type TlvField } from "./tlv.js";

export type Kind = "u8" | "u16" | "u32" | "bool" | "str" | "bytes" | "u8list" | "u32list";

export interface FieldSpec {
  tag: number;
  name: string;
  kind: Kind;
  required?: boolean;
  /** bytes: exact length. */
  size?: number;
  /** bytes/str: maximum length in bytes. */
  max?: number;
}

export type Decoded<T> = { ok: true; value: T } | { ok: false; status: number; detail: string };

// ---- generic field encoding -------------------------------------------

const utf8Strict = new TextDecoder("utf-8", { fatal: true });

function encodeValue(spec: FieldSpec, v: unknown): Buffer {
  const bad = (what: string) => new TypeError(`field ${spec.name} (tag 0x${spec.tag.toString(16)}) ${what}`);
  const int = (max: number) => {
    if (typeof v !== "number" || !Number.isInteger(v) || v < 0 || v > max)
      throw bad(`must be an integer 0..${max}`);
    return v;
  };
  switch (spec.kind) {
    case "u8":
      return Buffer.from([int(0xff)]);
    case "bool":
      if (typeof v !== "boolean") throw bad("must be a boolean");
      return Buffer.from([v ? 1 : 0]);
    case "u16": {
      const b = Buffer.alloc(2);
      b.writeUInt16BE(int(0xffff));
      return b;
    }
    case "u32": {
      const b = Buffer.alloc(4);
      b.writeUInt32BE(int(0xffffffff));
      return b;
    }
    case "str": {
      if (typeof v !== "string") throw bad("must be a string");
      if (v.includes("\0")) throw bad("must not contain NUL");
      const b = Buffer.from(v, "utf8");
      if (spec.max !== undefined && b.length > spec.max) throw bad(`is longer than ${spec.max} bytes`);
      return b;
    }
    case "bytes": {
      if (!(v instanceof Uint8Array)) throw bad("must be a Buffer");
      if (spec.size !== undefined && v.length !== spec.size)
        throw bad(`must be ${spec.size} bytes, got ${v.length}`);
      if (spec.max !== undefined && v.length > spec.max) throw bad(`is longer than ${spec.max} bytes`);
      return Buffer.from(v);
    }
    case "u8list":
      if (!Array.isArray(v)) throw bad("must be an array");
      for (const x of v)
        if (typeof x !== "number" || !Number.isInteger(x) || x < 0 || x > 0xff) throw bad("items must be u8");
      return Buffer.from(v as number[]);
    case "u32list": {
      if (!Array.isArray(v)) throw bad("must be an array");
      const b = Buffer.alloc(4 * v.length);
      v.forEach((x, i) => {
        if (typeof x !== "number" || !Number.isInteger(x) || x < 0 || x > 0xffffffff)
          throw bad("items must be u32");
        b.writeUInt32BE(x, 4 * i);
      });
      return b;
    }
  }
}

function decodeValue(
  spec: FieldSpec,
  b: Buffer,
): { ok: true; value: unknown } | { ok: false; detail: string } {
  const bad = (what: string) => ({
    ok: false as const,
    detail: `field ${spec.name} (tag 0x${spec.tag.toString(16)}) ${what}`,
  });
  const exact = (n: number) => (b.length === n ? null : bad(`must be ${n} bytes, got ${b.length}`));
  switch (spec.kind) {
    case "u8":
      return exact(1) ?? { ok: true, value: b[0] };
    case "bool":
      return exact(1) ?? { ok: true, value: b[0] !== 0 };
    case "u16":
      return exact(2) ?? { ok: true, value: b.readUInt16BE(0) };
    case "u32":
      return exact(4) ?? { ok: true, value: b.readUInt32BE(0) };
    case "str": {
      if (spec.max !== undefined && b.length > spec.max) return bad(`is longer than ${spec.max} bytes`);
      if (b.includes(0)) return bad("contains NUL");
      try {
        return { ok: true, value: utf8Strict.decode(b) };
      } catch {
        return bad("is not valid UTF-8");
      }
    }
    case "bytes":
      if (spec.size !== undefined && b.length !== spec.size)
        return bad(`must be ${spec.size} bytes, got ${b.length}`);
      if (spec.max !== undefined && b.length > spec.max) return bad(`is longer than ${spec.max} bytes`);
      return { ok: true, value: Buffer.from(b) };
    case "u8list":
      return { ok: true, value: [...b] };
    case "u32list": {
      if (b.length % 4 !== 0) return bad(`length ${b.length} is not a multiple of 4`);
      const out: number[] = [];
      for (let i = 0; i < b.length; i += 4) out.push(b.readUInt32BE(i));
      return { ok: true, value: out };
    }
  }
}

/** Typed object -> TLV bytes. Unknown properties are a TypeError (they would be silently lost). */
export function encodeFields(specs: readonly FieldSpec[], obj: object): Buffer {
  const record = obj as Record<string, unknown>;
  for (const k of Object.keys(record)) {
    if (record[k] !== undefined && !specs.some((s) => s.name === k))
      throw new TypeError(`unknown field ${k}`);
  }
  const fields: TlvField[] = [];
  for (const s of specs) {
    const v = record[s.name];
    if (v === undefined) {
      if (s.required) throw new TypeError(`required field ${s.name} (tag 0x${s.tag.toString(16)}) missing`);
      continue;
    }
    fields.push({ tag: s.tag, value: encodeValue(s, v) });
  }
  return encodeTlv(fields);
}

/** TLV bytes -> typed object; unknown tags are ignored, of a repeated tag the first occurrence counts. */
export function decodeFields<T>(specs: readonly FieldSpec[], payload: Uint8Array): Decoded<T> {
  const tlv = decodeTlv(payload);
  if (!tlv.ok) return { ok: false, status: STATUS.ERR_BAD_PAYLOAD, detail: tlv.detail };
  const out: Record<string, unknown> = {};
  for (const f of tlv.fields) {
    const s = specs.find((x) => x.tag === f.tag);
    if (!s) continue;
    // A repeated tag: the first occurrence counts (as in the C core's TLV find functions).
    if (s.name in out) continue;
    const v = decodeValue(s, f.value);
    if (!v.ok) return { ok: false, status: STATUS.ERR_BAD_PAYLOAD, detail: v.detail };
    out[s.name] = v.value;
  }
  for (const s of specs) {
    if (s.required && !(s.name in out)) {
      return {
        ok: false,
        status: STATUS.ERR_BAD_PAYLOAD,
        detail: `required field ${s.name} (tag 0x${s.tag.toString(16)}) missing`,
      };
    }
  }
  return { ok: true, value: out as T };
}

// ---- messages -----------------------------------------------------------

// ---- JSON view (vectors, --json output) ----------------------------------

/** Buffers become lowercase hex strings; everything else is already JSON. */
export function fieldsToJson(obj: object): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj)) {
    if (v === undefined) continue;
    out[k] = v instanceof Uint8Array ? Buffer.from(v).toString("hex") : v;
  }
  return out;
}

/** Inverse of fieldsToJson for the given table: hex strings of `bytes` fields become Buffers. */
export function fieldsFromJson(
  specs: readonly FieldSpec[],
  json: Record<string, unknown>,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(json)) {
    const s = specs.find((x) => x.name === k);
    out[k] = s?.kind === "bytes" && typeof v === "string" ? Buffer.from(v, "hex") : v;
  }
  return out;
}
