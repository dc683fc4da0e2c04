/**
 * What an ESP-IDF image file says about itself: the image header (magic
 * 0xE9, flash settings, the chip it was built for) and, in an app image,
 * ESP-IDF's app description (version, project, the ELF's SHA-256). Pure.
 */

export const IMAGE_MAGIC = 0xe9;
const APP_DESC_MAGIC = 0xabcd5432;
/** The app description sits in the first segment: after the 24-byte image header and an 8-byte segment header. */
const APP_DESC_OFFSET = 32;

/** esptool's image chip ids (esp_chip_id_t). */
export const IMAGE_CHIP_IDS: Record<number, string> = {
  0: "ESP32",
  2: "ESP32-S2",
  5: "ESP32-C3",
  9: "ESP32-S3",
  12: "ESP32-C2",
  13: "ESP32-C6",
  16: "ESP32-H2",
  18: "ESP32-P4",
  20: "ESP32-C61",
  23: "ESP32-C5",
};

export interface ImageHeader {
  segments: number;
  chipId: number;
  chipName: string;
  /** Chip revisions the image accepts (major * 100 + minor). */
  minRevision: number;
  maxRevision: number;
  /** A SHA-256 of the image follows it (the ROM or bootloader checks it). */
  hashAppended: boolean;
}

export interface AppDescription {
  version: string;
  project: string;
  idfVersion: string;
  /** Hex SHA-256 of the ELF the image was made from (what the app reports as its build). */
  elfSha256: string;
}

/** The header of an image file, or undefined when the bytes are not one (a partition table, data). */
export function imageHeader(bytes: Uint8Array): ImageHeader | undefined {
  if (bytes.length < 24 || bytes[0] !== IMAGE_MAGIC) return undefined;
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, 24);
  const chipId = b.readUInt16LE(12);
  return {
    segments: b[1] ?? 0,
    chipId,
    chipName: IMAGE_CHIP_IDS[chipId] ?? `chip id ${chipId}`,
    minRevision: b.readUInt16LE(15),
    maxRevision: b.readUInt16LE(17),
    hashAppended: b[23] === 1,
  };
}

const cString = (b: Buffer, at: number, len: number) =>
  b
    .subarray(at, at + len)
    .toString("latin1")
    .replace(/\0.*$/s, "");

/** ESP-IDF's app description of an app image, or undefined (a bootloader, not an ESP-IDF app). */
export function appDescription(bytes: Uint8Array): AppDescription | undefined {
  if (!imageHeader(bytes) || bytes.length < APP_DESC_OFFSET + 208) return undefined;
  const b = Buffer.from(bytes.buffer, bytes.byteOffset + APP_DESC_OFFSET, 208);
  if (b.readUInt32LE(0) !== APP_DESC_MAGIC) return undefined;
  return {
    version: cString(b, 16, 32),
    project: cString(b, 48, 32),
    idfVersion: cString(b, 112, 32),
    elfSha256: b.subarray(144, 176).toString("hex"),
  };
}
