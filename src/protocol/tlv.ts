/**
 * TLV payload encoding (docs/protocol.md section 5.1): tag u8, length u16 BE,
 * value. Decoding returns errors as values and never throws.
 */

export interface TlvField {
  tag: number;
  value: Buffer;
}

export type TlvDecodeResult = { ok: true; fields: TlvField[] } | { ok: false; detail: string };

/** Encodes fields in ascending tag order; a repeated tag or an out-of-range length is a TypeError. */
export function encodeTlv(fields: readonly TlvField[]): Buffer {
  const sorted = [...fields].sort((a, b) => a.tag - b.tag);
  const parts: Buffer[] = [];
  let prev = -1;
  for (const f of sorted) {
    if (!Number.isInteger(f.tag) || f.tag < 0 || f.tag > 0xff)
      throw new TypeError(`TLV tag must be 0..255, got ${f.tag}`);
    if (f.tag === prev) throw new TypeError(`TLV tag 0x${f.tag.toString(16)} given twice`);
    if (f.value.length > 0xffff) throw new TypeError(`TLV value of ${f.value.length} bytes exceeds 65535`);
    prev = f.tag;
    const head = Buffer.alloc(3);
    head[0] = f.tag;
    head.writeUInt16BE(f.value.length, 1);
    parts.push(head, f.value);
  }
  return Buffer.concat(parts);
}

/** Splits a payload into fields in wire order; a length that overruns the payload is an error. */
export function decodeTlv(payload: Uint8Array): TlvDecodeResult {
  const buf = Buffer.from(payload.buffer, payload.byteOffset, payload.length);
  const fields: TlvField[] = [];
  let at = 0;
  while (at < buf.length) {
    if (buf.length - at < 3) return { ok: false, detail: `TLV header cut short at byte ${at}` };
    const tag = buf[at] as number;
    const len = buf.readUInt16BE(at + 1);
    if (at + 3 + len > buf.length) {
      return {
        ok: false,
        detail: `TLV tag 0x${tag.toString(16)} length ${len} overruns the payload at byte ${at}`,
      };
    }
    fields.push({ tag, value: Buffer.from(buf.subarray(at + 3, at + 3 + len)) });
    at += 3 + len;
  }
  return { ok: true, fields };
}
