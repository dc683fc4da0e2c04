/**
 * The emulated ESP32-C3's eFuse file: what QEMU's `nvram.esp32c3.efuse`
 * model reads as the chip's eFuse blocks (its register block from
 * `rd_wr_dis` on, 1 KiB). Blank eFuses read as MAC 00:00:00:00:00:00 on
 * every emulated chip; a file per device gives each its own factory MAC
 * (the device id) and the chip revision a blank file would lack.
 */

export const EFUSE_FILE_BYTES = 1024;
/** BLOCK1 (MAC and SPI pad settings) starts 0x18 bytes into the file (register 0x44 - 0x2c). */
const BLOCK1 = 0x18;
/** rd_mac_spi_sys_3: wafer_version_minor_low is bits 18..20. */
const MAC_SPI_SYS_3 = BLOCK1 + 12;
const WAFER_MINOR_SHIFT = 18;
/** v0.3: the oldest revision ESP-IDF v5.5+'s bootloader accepts by default (CONFIG_ESP32C3_REV_MIN_3). */
export const CHIP_REVISION_MINOR_DEFAULT = 3;

/** `mac`: 12 hex digits as the firmware prints its device id (esp_efuse_mac_get_default's byte order). */
export function efuseImage(mac: string, revisionMinor = CHIP_REVISION_MINOR_DEFAULT): Buffer {
  if (!/^[0-9a-f]{12}$/.test(mac))
    throw new TypeError(`MAC must be 12 lowercase hex digits, got ${JSON.stringify(mac)}`);
  const bytes = Buffer.from(mac, "hex");
  if ((bytes[0] ?? 0) & 1) throw new TypeError(`MAC ${mac} is a multicast address: a factory MAC is unicast`);
  const file = Buffer.alloc(EFUSE_FILE_BYTES, 0);
  // The MAC field's first byte is its most significant bits (ESP-IDF's efuse table lists MAC_FACTORY high byte first).
  Buffer.from(bytes).reverse().copy(file, BLOCK1);
  file.writeUInt32LE((revisionMinor & 0x7) << WAFER_MINOR_SHIFT, MAC_SPI_SYS_3);
  return file;
}

/** The MAC written in an eFuse image (what the firmware will report as its device id). */
export function macOf(efuse: Buffer): string {
  return Buffer.from(efuse.subarray(BLOCK1, BLOCK1 + 6))
    .reverse()
    .toString("hex");
}
