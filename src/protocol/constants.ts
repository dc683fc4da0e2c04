/**
 * Every number of protocol v1 (docs/protocol.md) in one place: limits,
 * message types, flags, key types and stores, states, event codes, error
 * codes, and the host's per-command timeouts and attempts (section 6).
 * The C core has the same table in firmware-templates/core; the vectors in
 * test/vectors pin both.
 */

export const PROTOCOL_VERSION = 1;

/** Start-of-frame marker (ASCII RS): never appears in ESP-IDF logs or the ROM banner. */
export const FRAME_START = 0x1e;
export const FRAME_END = 0x0a;
export const CARRIAGE_RETURN = 0x0d;

export const LOG_LINE_MAX = 1024;
export const FRAME_LINE_MAX = 2736;
export const FRAME_BODY_MAX = 2048;
/** Smallest max_frame a device may announce, and what the host assumes before HELLO. */
export const FRAME_BODY_MIN = 256;
export const FRAME_HEADER_BYTES = 5;
export const FRAME_CRC_BYTES = 4;
export const FRAME_OVERHEAD_BYTES = FRAME_HEADER_BYTES + FRAME_CRC_BYTES;
export const PAYLOAD_MAX = 8192;
export const PING_DATA_MAX = 64;
export const ERROR_TEXT_MAX = 96;
export const FACTORY_RESET_TOKEN_BYTES = 8;
export const SHA256_BYTES = 32;
export const BAUD_CONFIRM_MS = 1500;
export const RESTART_DELAY_DEFAULT_MS = 100;
export const LOCK_CONFIRMATION = "LOCK";

export const FLAG_RESPONSE = 0x01;
export const FLAG_CHUNK = 0x02;

export const MSG = {
  HELLO: 0x01,
  STATUS: 0x02,
  PING: 0x03,
  SET_BAUD: 0x04,
  GENERATE_KEY: 0x10,
  GET_CSR: 0x11,
  WRITE_CREDENTIALS: 0x20,
  COMMIT: 0x21,
  RESTART: 0x22,
  LOCK: 0x23,
  FACTORY_RESET: 0x24,
  EVENT: 0x70,
} as const;
export type MessageName = keyof typeof MSG;
export type MessageType = (typeof MSG)[MessageName];
/** Message types a host may send (everything but EVENT). */
export type RequestType = Exclude<MessageType, typeof MSG.EVENT>;

const MSG_NAMES = new Map<number, MessageName>(Object.entries(MSG).map(([k, v]) => [v, k as MessageName]));
/** "GENERATE_KEY" for 0x10, "TYPE_0x99" for an unknown type. */
export function messageName(type: number): string {
  return MSG_NAMES.get(type) ?? `TYPE_0x${type.toString(16).padStart(2, "0")}`;
}
export function isKnownMessageType(type: number): type is MessageType {
  return MSG_NAMES.has(type);
}

export const KEY_TYPE = { EC_P256: 1, EC_P384: 2, RSA_2048: 3, RSA_3072: 4 } as const;

export const KEY_STORE = { NVS: 1, NVS_ENCRYPTED: 2, DS: 3, ATECC608: 4, FILE: 5 } as const;

/**
 * Key types and key stores as users, config files and board files name
 * them, with their wire numbers: the one definition the config schema, the
 * board schema, the CLI's choices, the pipeline and the firmware renderer
 * derive theirs from.
 */
export const KEY_TYPE_NAMES = {
  "ec-p256": KEY_TYPE.EC_P256,
  "ec-p384": KEY_TYPE.EC_P384,
  "rsa-2048": KEY_TYPE.RSA_2048,
  "rsa-3072": KEY_TYPE.RSA_3072,
} as const;
export type KeyTypeName = keyof typeof KEY_TYPE_NAMES;
export const KEY_TYPE_NAME_LIST = Object.keys(KEY_TYPE_NAMES) as [KeyTypeName, ...KeyTypeName[]];

export const KEY_STORE_NAMES = {
  nvs: KEY_STORE.NVS,
  "nvs-encrypted": KEY_STORE.NVS_ENCRYPTED,
  ds: KEY_STORE.DS,
  atecc608: KEY_STORE.ATECC608,
  file: KEY_STORE.FILE,
} as const;
export type KeyStoreName = keyof typeof KEY_STORE_NAMES;
export const KEY_STORE_NAME_LIST = Object.keys(KEY_STORE_NAMES) as [KeyStoreName, ...KeyStoreName[]];

export const DEVICE_STATE = { EMPTY: 0, KEYED: 1, STAGED: 2, PROVISIONED: 3, LOCKED: 4 } as const;
export type DeviceStateName = keyof typeof DEVICE_STATE;

export const EVENT_CODE = {
  BOOT: 1,
  NETWORK_UP: 2,
  NETWORK_DOWN: 3,
  MQTT_CONNECTED: 4,
  MQTT_DISCONNECTED: 5,
  PUBLISHED: 6,
  ERROR: 7,
  MESSAGE_RECEIVED: 8,
} as const;
export type EventName = keyof typeof EVENT_CODE;

/** Status byte of a response (section 5.4). */
export const STATUS = {
  OK: 0,
  ERR_UNKNOWN_TYPE: 1,
  ERR_BAD_PAYLOAD: 2,
  ERR_WRONG_STATE: 3,
  ERR_UNSUPPORTED: 4,
  ERR_NO_KEY: 5,
  ERR_KEY_MISMATCH: 6,
  ERR_TOO_LARGE: 7,
  ERR_CHUNK: 8,
  ERR_DIGEST: 9,
  ERR_STORAGE: 10,
  ERR_CRYPTO: 11,
  ERR_LOCKED: 12,
  ERR_BAD_TOKEN: 13,
  ERR_VERSION: 14,
  ERR_BUSY: 15,
  ERR_BAD_CERT: 16,
  ERR_BAD_BAUD: 17,
  ERR_INTERNAL: 255,
} as const;
export type StatusName = keyof typeof STATUS;
export type DeviceErrorName = Exclude<StatusName, "OK">;

/** Short English meaning of each status, for messages shown to people. */
export const STATUS_MEANING: Record<StatusName, string> = {
  OK: "ok",
  ERR_UNKNOWN_TYPE: "message type not known to this firmware",
  ERR_BAD_PAYLOAD: "TLV malformed or a required field missing",
  ERR_WRONG_STATE: "command not valid in the current state",
  ERR_UNSUPPORTED: "key type, key store or option not supported by this board",
  ERR_NO_KEY: "no key yet",
  ERR_KEY_MISMATCH: "certificate's public key is not the device's key",
  ERR_TOO_LARGE: "payload or field larger than the device accepts",
  ERR_CHUNK: "chunk out of order or inconsistent total",
  ERR_DIGEST: "reassembled payload does not match its digest",
  ERR_STORAGE: "flash or key storage failed",
  ERR_CRYPTO: "crypto library failed",
  ERR_LOCKED: "device is locked",
  ERR_BAD_TOKEN: "factory-reset token wrong or stale",
  ERR_VERSION: "protocol version not supported",
  ERR_BUSY: "a previous command is still running",
  ERR_BAD_CERT: "certificate or CA text does not parse",
  ERR_BAD_BAUD: "baud rate not supported",
  ERR_INTERNAL: "bug in the firmware",
};

const STATUS_NAMES = new Map<number, StatusName>(
  Object.entries(STATUS).map(([k, v]) => [v, k as StatusName]),
);
/** "ERR_NO_KEY" for 5, "ERR_0x42" for a code this host does not know. */
export function statusName(status: number): string {
  return STATUS_NAMES.get(status) ?? `ERR_0x${status.toString(16).padStart(2, "0")}`;
}

export function nameOf<T extends Record<string, number>>(table: T, value: number): keyof T | undefined {
  for (const [k, v] of Object.entries(table)) if (v === value) return k as keyof T;
  return undefined;
}

/**
 * GENERATE_KEY's wait per attempt, by key type: the slowest supported chip
 * with margin. mbedTLS RSA-2048 on an ESP32 takes seconds to over 10 s with a
 * long tail, RSA-3072 several times that; the emulated ESP32-C3 on a loaded
 * host ran past 60 s for RSA-2048. A retry never makes a second key (the
 * device answers a repeated request from its cache), so the worst case is
 * attempts x this. Boards and `--device-timeout` can raise it.
 */
export const KEYGEN_TIMEOUT_MS: Readonly<Record<number, number>> = {
  [KEY_TYPE.EC_P256]: 30_000,
  [KEY_TYPE.EC_P384]: 30_000,
  [KEY_TYPE.RSA_2048]: 120_000,
  [KEY_TYPE.RSA_3072]: 300_000,
};

/** What `--device-timeout NAME=MS` and a board's deviceTimeoutsMs may raise: a command's wait per attempt, or BOOT. */
export const DEVICE_TIMEOUT_NAMES = [
  "BOOT",
  "GENERATE_KEY",
  "GET_CSR",
  "WRITE_CREDENTIALS",
  "COMMIT",
  "RESTART",
  "HELLO",
  "STATUS",
] as const;
export type DeviceTimeoutName = (typeof DEVICE_TIMEOUT_NAMES)[number];

/** Host timing per command (section 6): timeout per attempt, and attempts. */
export interface CommandTiming {
  timeoutMs: number;
  attempts: number;
}

export const COMMAND_TIMING: Record<MessageName, CommandTiming> & { CHUNK: CommandTiming } = {
  HELLO: { timeoutMs: 1000, attempts: 3 },
  STATUS: { timeoutMs: 1000, attempts: 3 },
  PING: { timeoutMs: 1000, attempts: 3 },
  // One attempt: a lost SET_BAUD answer is resolved by the PING fallback, not a resend.
  SET_BAUD: { timeoutMs: 1000, attempts: 1 },
  // The EC wait; RSA waits longer (KEYGEN_TIMEOUT_MS).
  GENERATE_KEY: { timeoutMs: 30000, attempts: 2 },
  GET_CSR: { timeoutMs: 15000, attempts: 2 },
  /** The final (unchunked-equivalent) WRITE_CREDENTIALS request and single-frame writes. */
  WRITE_CREDENTIALS: { timeoutMs: 2000, attempts: 3 },
  COMMIT: { timeoutMs: 5000, attempts: 3 },
  RESTART: { timeoutMs: 2000, attempts: 2 },
  LOCK: { timeoutMs: 2000, attempts: 2 },
  FACTORY_RESET: { timeoutMs: 2000, attempts: 2 },
  EVENT: { timeoutMs: 0, attempts: 0 },
  /** Each chunk of a chunked request. */
  CHUNK: { timeoutMs: 2000, attempts: 3 },
};
