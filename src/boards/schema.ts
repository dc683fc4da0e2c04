/**
 * The board definition: everything that differs between supported boards,
 * for the host (USB ids, reset strategy, baud rates) and for the firmware
 * renderer (chip, console, key store, flash layout, secure element pins).
 *
 * One zod schema gives the TypeScript type, the load-time check with field
 * paths, and boards/schema.json (scripts/gen-board-schema.ts).
 */
import { z } from "zod";
import { DEVICE_TIMEOUT_NAMES, KEY_STORE_NAME_LIST, KEY_TYPE_NAME_LIST } from "../protocol/constants.js";
import { RESET_SEQUENCE_PATTERN, RESET_STRATEGIES } from "./reset.js";

/** "linux" is ESP-IDF's linux target (the port built for this host); "host" is the device twin. */
export const CHIPS = ["esp32", "esp32s2", "esp32s3", "esp32c3", "esp32c6", "linux", "host"] as const;
export const KEY_STORES = KEY_STORE_NAME_LIST;
export const KEY_TYPES = KEY_TYPE_NAME_LIST;
export const RSA_KEY_TYPES: readonly KeyType[] = ["rsa-2048", "rsa-3072"];

export type Chip = (typeof CHIPS)[number];
export type KeyStoreKind = (typeof KEY_STORES)[number];
export type KeyType = (typeof KEY_TYPES)[number];

/** Chips with a Digital Signature peripheral (RSA only, key wrapped by an eFuse HMAC key). */
export const CHIPS_WITH_DS: readonly Chip[] = ["esp32s2", "esp32s3", "esp32c3", "esp32c6"];
/** Chips with a USB-Serial-JTAG controller that can carry the console. */
export const CHIPS_WITH_USB_SERIAL_JTAG: readonly Chip[] = ["esp32s3", "esp32c3", "esp32c6"];

/** USB vendor/product id as sysfs and `SerialPort.list()` print them: 4 lowercase hex digits. */
const usbHex = z.string().regex(/^[0-9a-f]{4}$/, 'must be 4 lowercase hex digits, as in sysfs (e.g. "10c4")');

export const UsbIdSchema = z.strictObject({
  vid: usbHex,
  pid: usbHex,
  description: z.string().min(1).describe('the USB-serial bridge, e.g. "Silicon Labs CP2102"'),
});

export const ResetSchema = z.strictObject({
  strategy: z
    .enum(RESET_STRATEGIES)
    .describe(
      "classic: DTR/RTS drive EN and IO0 through two transistors; usb-jtag-serial: the chip's own USB controller (resets on open); none: no reset lines",
    ),
  sequence: z
    .string()
    .regex(RESET_SEQUENCE_PATTERN, "must be steps like D0|R1|W100|D1|R0|W50|D0 (D/R 0 or 1, W milliseconds)")
    .optional()
    .describe("custom hard-reset-into-app sequence, overrides the strategy's default"),
});

const gpio = z.number().int().min(0).max(48);

export const ConsoleSchema = z.strictObject({
  kind: z
    .enum(["uart", "usb-serial-jtag", "pty"])
    .describe("pty: a pseudo-terminal the device opens itself (ESP-IDF's linux target)"),
  uartNum: z.number().int().min(0).max(2).default(0),
  txPin: gpio.optional(),
  rxPin: gpio.optional(),
});

export const BaudSchema = z
  .strictObject({
    default: z.number().int().positive().default(115200),
    rates: z.array(z.number().int().positive()).min(1).describe("rates the device can switch to after HELLO"),
  })
  .refine((b) => b.rates.includes(b.default), {
    message: "the default baud rate must be one of the rates",
    path: ["default"],
  });

export const KeyStoreSchema = z.strictObject({
  default: z.enum(KEY_STORES),
  supported: z.array(z.enum(KEY_STORES)).min(1),
});

export const KeyTypesSchema = z.strictObject({
  default: z.enum(KEY_TYPES),
  supported: z.array(z.enum(KEY_TYPES)).min(1),
});

/** ESP-IDF partition CSV size/offset: hex bytes or decimal with an optional K/M suffix. */
const partitionSize = z.string().regex(/^(?:0x[0-9a-fA-F]+|\d+[KM]?)$/, "must be like 0x6000, 24K or 1M");

export const PartitionSchema = z.strictObject({
  name: z.string().regex(/^[A-Za-z0-9_]{1,16}$/, "at most 16 letters, digits or _"),
  type: z.enum(["app", "data"]),
  subtype: z.enum(["factory", "ota_0", "ota_1", "nvs", "nvs_keys", "phy", "otadata", "spiffs", "fat"]),
  offset: partitionSize.optional(),
  size: partitionSize,
  encrypted: z.boolean().optional(),
});

export const FlashSchema = z.strictObject({
  sizeMB: z.union([z.literal(2), z.literal(4), z.literal(8), z.literal(16), z.literal(32)]),
  partitions: z.array(PartitionSchema).min(1),
});

export const SecureElementSchema = z.strictObject({
  kind: z.literal("atecc608"),
  variant: z
    .enum(["trust-and-go", "trustflex", "trustcustom"])
    .describe("Microchip pre-configuration; decides the I2C address and which slots accept GenKey"),
  i2cPort: z.number().int().min(0).max(1).default(0),
  sdaPin: gpio,
  sclPin: gpio,
  /** 7-bit I2C address; cryptoauthlib wants it shifted left (0x35 -> 0x6A). */
  address: z.number().int().min(0x08).max(0x77),
  slot: z.number().int().min(0).max(15).default(0),
});

export const NvsEncryptionSchema = z.strictObject({
  scheme: z
    .enum(["flash-encryption", "hmac"])
    .describe(
      "flash-encryption: XTS keys in the nvs_keys partition, protected by flash encryption (any chip); hmac: keys derived from an eFuse HMAC key (chips with an HMAC peripheral), no flash encryption needed",
    ),
  /** eFuse key block (0..5) for the HMAC scheme's key (purpose HMAC_UP). */
  efuseKeyBlock: z.number().int().min(0).max(5).optional(),
});

export const DsSchema = z.strictObject({
  /** eFuse key block (0..5 = BLOCK_KEY0..BLOCK_KEY5) that receives the HMAC key for DS. */
  efuseKeyBlock: z.number().int().min(0).max(5),
});

export const BoardSchema = z
  .strictObject({
    $schema: z.string().optional(),
    id: z.string().regex(/^[a-z0-9][a-z0-9-]*$/, "lowercase letters, digits and -"),
    name: z.string().min(1),
    chip: z.enum(CHIPS),
    notes: z.array(z.string()).optional().describe("facts a user should know, uncertainties included"),
    usb: z.array(UsbIdSchema),
    reset: ResetSchema,
    console: ConsoleSchema,
    baud: BaudSchema,
    keyStore: KeyStoreSchema,
    keyTypes: KeyTypesSchema,
    flash: FlashSchema.optional().describe("absent only for the host twin"),
    secureElement: SecureElementSchema.optional(),
    ds: DsSchema.optional(),
    nvsEncryption: NvsEncryptionSchema.optional(),
    wifi: z.boolean(),
    deviceTimeoutsMs: z
      .partialRecord(z.enum(DEVICE_TIMEOUT_NAMES), z.number().int().min(100).max(3_600_000))
      .optional()
      .describe(
        "longer waits for a slow chip: a command's wait per attempt (e.g. GENERATE_KEY for RSA on a slow part), or BOOT (reset to the console's first answer), in ms; they only raise the tool's defaults",
      ),
  })
  .superRefine((b, ctx) => {
    const issue = (path: (string | number)[], message: string) =>
      ctx.addIssue({ code: "custom", path, message });
    if (!b.keyStore.supported.includes(b.keyStore.default))
      issue(["keyStore", "default"], "must be one of keyStore.supported");
    if (!b.keyTypes.supported.includes(b.keyTypes.default))
      issue(["keyTypes", "default"], "must be one of keyTypes.supported");
    if (b.keyStore.default === "ds" && !RSA_KEY_TYPES.includes(b.keyTypes.default))
      issue(["keyTypes", "default"], "the DS peripheral holds RSA keys only: use rsa-2048 or rsa-3072");
    if (b.keyStore.default === "atecc608" && b.keyTypes.default !== "ec-p256")
      issue(["keyTypes", "default"], "the ATECC608 holds P-256 keys only: use ec-p256");
    if (b.keyStore.supported.includes("ds")) {
      if (!CHIPS_WITH_DS.includes(b.chip)) issue(["keyStore", "supported"], `${b.chip} has no DS peripheral`);
      if (!b.ds) issue(["ds"], "required when keyStore.supported has ds (which eFuse key block to use)");
    }
    if (b.keyStore.supported.includes("atecc608") && !b.secureElement)
      issue(["secureElement"], "required when keyStore.supported has atecc608 (I2C pins and address)");
    if ((b.console.kind === "pty") !== (b.chip === "linux"))
      issue(["console", "kind"], "pty is the console of ESP-IDF's linux target, and its only one");
    if (b.chip === "linux") {
      if (b.keyStore.supported.some((k) => k !== "nvs"))
        issue(
          ["keyStore", "supported"],
          "ESP-IDF's linux target has plain NVS only (no eFuses, no peripherals)",
        );
      if (b.wifi) issue(["wifi"], "ESP-IDF's linux target has no Wi-Fi: it uses the host's network");
    }
    if (b.chip === "host") {
      if (b.keyStore.supported.some((k) => k !== "file"))
        issue(["keyStore", "supported"], "the host twin stores keys in a file only");
    } else {
      if (b.keyStore.supported.includes("file"))
        issue(["keyStore", "supported"], "file is the host twin's store, not a chip's");
      if (!b.flash) {
        issue(["flash"], "required for a chip");
        return;
      }
      const parts = b.flash.partitions;
      const has = (subtype: string) => parts.some((p) => p.subtype === subtype);
      if (!has("nvs")) issue(["flash", "partitions"], "needs an nvs data partition");
      // The linux target runs from the host's file system: its flash holds data only.
      if (b.chip !== "linux" && !parts.some((p) => p.type === "app"))
        issue(["flash", "partitions"], "needs an app partition");
      const enc = b.nvsEncryption;
      if (b.keyStore.supported.includes("nvs-encrypted")) {
        if (!enc) issue(["nvsEncryption"], "required when keyStore.supported has nvs-encrypted");
        else if (enc.scheme === "flash-encryption" && !has("nvs_keys"))
          issue(["flash", "partitions"], "nvs-encrypted with flash-encryption needs an nvs_keys partition");
        else if (enc.scheme === "hmac") {
          if (!CHIPS_WITH_DS.includes(b.chip))
            issue(["nvsEncryption", "scheme"], `${b.chip} has no HMAC peripheral`);
          if (enc.efuseKeyBlock === undefined)
            issue(["nvsEncryption", "efuseKeyBlock"], "required for the hmac scheme");
          else if (b.ds && b.ds.efuseKeyBlock === enc.efuseKeyBlock)
            issue(
              ["nvsEncryption", "efuseKeyBlock"],
              "must differ from ds.efuseKeyBlock (one purpose per key block)",
            );
        }
      }
      if (b.console.kind === "usb-serial-jtag" && !CHIPS_WITH_USB_SERIAL_JTAG.includes(b.chip))
        issue(["console", "kind"], `${b.chip} has no USB-Serial-JTAG controller`);
    }
  });

export type Board = z.output<typeof BoardSchema>;
export type BoardInput = z.input<typeof BoardSchema>;
