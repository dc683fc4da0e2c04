/**
 * ESP-IDF's binary partition table (what `partition_table/partition-table.bin`
 * holds and the bootloader reads at 0x8000): 32-byte entries with the magic
 * 0xAA50, closed by an MD5 entry (magic 0xEBEB) over the entries before it.
 * Pure: the image build reports how full each partition is from it, and the
 * flashing plan checks sizes and finds the NVS partition with it.
 */
import { createHash } from "node:crypto";

export const PARTITION_TABLE_MAX_BYTES = 0xc00;
const ENTRY_BYTES = 32;
const MAGIC_ENTRY = 0x50aa;
const MAGIC_MD5 = 0xebeb;

export const PARTITION_TYPE = { app: 0x00, data: 0x01 } as const;
export const DATA_SUBTYPE = { nvs: 0x02, nvsKeys: 0x04, phy: 0x01, ota: 0x00 } as const;
export const APP_SUBTYPE = { factory: 0x00, test: 0x20 } as const;

export interface Partition {
  label: string;
  type: number;
  subtype: number;
  offset: number;
  size: number;
  encrypted: boolean;
}

export function isApp(p: Partition): boolean {
  return p.type === PARTITION_TYPE.app;
}

export function isNvs(p: Partition): boolean {
  return p.type === PARTITION_TYPE.data && p.subtype === DATA_SUBTYPE.nvs;
}

/** Parses a partition table image; throws a TypeError naming the fault for anything else. */
export function parsePartitionTable(bytes: Uint8Array): Partition[] {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: Partition[] = [];
  for (let at = 0; at + ENTRY_BYTES <= Math.min(buf.length, PARTITION_TABLE_MAX_BYTES); at += ENTRY_BYTES) {
    const magic = buf.readUInt16LE(at);
    if (magic === 0xffff) return out; // erased flash: the table ends without a digest (legacy tables)
    if (magic === MAGIC_MD5) {
      const want = buf.subarray(at + 16, at + 32);
      const got = createHash("md5").update(buf.subarray(0, at)).digest();
      if (!got.equals(want)) throw new TypeError(`partition table MD5 mismatch at 0x${at.toString(16)}`);
      return out;
    }
    if (magic !== MAGIC_ENTRY)
      throw new TypeError(
        `not a partition table entry at 0x${at.toString(16)} (magic 0x${magic.toString(16)})`,
      );
    const label = buf
      .subarray(at + 12, at + 28)
      .toString("latin1")
      .replace(/\0.*$/s, "");
    out.push({
      label,
      type: buf[at + 2] ?? 0,
      subtype: buf[at + 3] ?? 0,
      offset: buf.readUInt32LE(at + 4),
      size: buf.readUInt32LE(at + 8),
      encrypted: (buf.readUInt32LE(at + 28) & 1) === 1,
    });
  }
  throw new TypeError("partition table has no end marker");
}
