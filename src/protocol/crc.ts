import { crc32 as zlibCrc32 } from "node:zlib";

/** CRC-32/ISO-HDLC (the zlib/Ethernet CRC), as used in the frame body (section 3). */
export function crc32(bytes: Uint8Array): number {
  return zlibCrc32(bytes) >>> 0;
}
