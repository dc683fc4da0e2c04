/**
 * Message codec (docs/protocol.md sections 5.2-5.3): typed requests,
 * responses and events <-> payload bytes, driven by one field table per
 * message. Encoders throw TypeError on bad arguments (a programming error);
 * decoders never throw and return the status a device would answer with.
 */
import { ERROR_TEXT_MAX, type MessageName, messageName, STATUS, statusName } from "./constants.js";
import { type Decoded, decodeFields, encodeFields, type FieldSpec } from "./fields.js";

export * from "./fields.js";

const req = true;

/** Field tables, request (R) and answer (A) per message, in tag order. */
export const MESSAGE_FIELDS = {
  HELLO: {
    request: [{ tag: 0x01, name: "hostVersion", kind: "u8", required: req }],
    response: [
      { tag: 0x01, name: "version", kind: "u8", required: req },
      { tag: 0x02, name: "deviceId", kind: "str", required: req },
      { tag: 0x03, name: "firmwareVersion", kind: "str", required: req },
      { tag: 0x04, name: "boardId", kind: "str", required: req },
      { tag: 0x05, name: "keyTypes", kind: "u8list", required: req },
      { tag: 0x06, name: "keyStores", kind: "u8list", required: req },
      { tag: 0x07, name: "state", kind: "u8", required: req },
      { tag: 0x08, name: "maxFrame", kind: "u16", required: req },
      { tag: 0x09, name: "baudRates", kind: "u32list", required: req },
      { tag: 0x0a, name: "buildVersion", kind: "str" },
      { tag: 0x0b, name: "buildSha256", kind: "bytes", size: 32 },
    ],
  },
  STATUS: {
    request: [],
    response: [
      { tag: 0x07, name: "state", kind: "u8", required: req },
      { tag: 0x10, name: "keyType", kind: "u8" },
      { tag: 0x11, name: "keyStore", kind: "u8" },
      { tag: 0x12, name: "publicKeySha256", kind: "bytes", size: 32 },
      { tag: 0x13, name: "pendingKeySha256", kind: "bytes", size: 32 },
      { tag: 0x20, name: "thingName", kind: "str" },
      { tag: 0x21, name: "endpoint", kind: "str" },
      { tag: 0x22, name: "mqttPort", kind: "u16" },
      { tag: 0x23, name: "topic", kind: "str" },
      { tag: 0x24, name: "certSha256", kind: "bytes", size: 32 },
      { tag: 0x25, name: "generation", kind: "u32" },
      { tag: 0x26, name: "setDigest", kind: "bytes", size: 32 },
      { tag: 0x27, name: "stagedLength", kind: "u32" },
    ],
  },
  PING: {
    request: [{ tag: 0x01, name: "data", kind: "bytes", max: 64 }],
    response: [{ tag: 0x01, name: "data", kind: "bytes", max: 64 }],
  },
  SET_BAUD: {
    request: [{ tag: 0x01, name: "baud", kind: "u32", required: req }],
    response: [{ tag: 0x01, name: "baud", kind: "u32", required: req }],
  },
  GENERATE_KEY: {
    request: [
      { tag: 0x01, name: "keyType", kind: "u8", required: req },
      { tag: 0x02, name: "keyStore", kind: "u8", required: req },
      { tag: 0x03, name: "force", kind: "bool" },
    ],
    response: [
      { tag: 0x01, name: "keyType", kind: "u8", required: req },
      { tag: 0x02, name: "keyStore", kind: "u8", required: req },
      { tag: 0x03, name: "publicKey", kind: "bytes", required: req },
      { tag: 0x04, name: "created", kind: "bool", required: req },
    ],
  },
  GET_CSR: {
    request: [
      { tag: 0x01, name: "C", kind: "str" },
      { tag: 0x02, name: "ST", kind: "str" },
      { tag: 0x03, name: "L", kind: "str" },
      { tag: 0x04, name: "O", kind: "str" },
      { tag: 0x05, name: "OU", kind: "str" },
      { tag: 0x06, name: "CN", kind: "str" },
    ],
    response: [{ tag: 0x01, name: "csr", kind: "bytes", required: req }],
  },
  WRITE_CREDENTIALS: {
    request: [
      { tag: 0x01, name: "certificatePem", kind: "str", required: req },
      { tag: 0x02, name: "rootCaPem", kind: "str", required: req },
      { tag: 0x03, name: "endpoint", kind: "str", required: req },
      { tag: 0x04, name: "mqttPort", kind: "u16", required: req },
      { tag: 0x05, name: "thingName", kind: "str", required: req },
      { tag: 0x06, name: "topic", kind: "str", required: req },
      { tag: 0x07, name: "publishIntervalMs", kind: "u32", required: req },
      { tag: 0x08, name: "wifiSsid", kind: "str" },
      { tag: 0x09, name: "wifiPassword", kind: "str" },
    ],
    response: [
      { tag: 0x01, name: "stagedLength", kind: "u32", required: req },
      { tag: 0x02, name: "digest", kind: "bytes", size: 32, required: req },
    ],
  },
  COMMIT: {
    request: [],
    response: [
      { tag: 0x01, name: "setDigest", kind: "bytes", size: 32, required: req },
      { tag: 0x02, name: "certDigest", kind: "bytes", size: 32, required: req },
      { tag: 0x03, name: "generation", kind: "u32", required: req },
    ],
  },
  RESTART: {
    request: [{ tag: 0x01, name: "delayMs", kind: "u16" }],
    response: [],
  },
  LOCK: {
    request: [{ tag: 0x01, name: "confirmation", kind: "str", required: req }],
    response: [],
  },
  FACTORY_RESET: {
    request: [{ tag: 0x01, name: "token", kind: "bytes", size: 8 }],
    response: [{ tag: 0x01, name: "token", kind: "bytes", size: 8 }],
  },
} as const satisfies Record<Exclude<MessageName, "EVENT">, { request: FieldSpec[]; response: FieldSpec[] }>;

export const EVENT_FIELDS = [
  { tag: 0x01, name: "code", kind: "u8", required: req },
  { tag: 0x02, name: "text", kind: "str" },
  { tag: 0x03, name: "value", kind: "u32" },
] as const satisfies FieldSpec[];

/** Answer to a non-final chunk (section 4): status OK, 0x01 u32 bytes received so far. */
export const CHUNK_ACK_FIELDS = [
  { tag: 0x01, name: "received", kind: "u32", required: req },
] as const satisfies FieldSpec[];

// ---- typed views -------------------------------------------------------

export interface CsrSubject {
  C?: string;
  ST?: string;
  L?: string;
  O?: string;
  OU?: string;
  CN?: string;
}

export interface CredentialSet {
  certificatePem: string;
  /** Root CA PEMs concatenated (Amazon Root CA 1 and 3, usually). */
  rootCaPem: string;
  endpoint: string;
  mqttPort: number;
  /** Also the MQTT client id. */
  thingName: string;
  topic: string;
  publishIntervalMs: number;
  wifiSsid?: string;
  wifiPassword?: string;
}

export interface Requests {
  HELLO: { hostVersion: number };
  STATUS: Record<string, never>;
  PING: { data?: Buffer };
  SET_BAUD: { baud: number };
  GENERATE_KEY: { keyType: number; keyStore: number; force?: boolean };
  GET_CSR: CsrSubject;
  WRITE_CREDENTIALS: CredentialSet;
  COMMIT: Record<string, never>;
  RESTART: { delayMs?: number };
  LOCK: { confirmation: string };
  FACTORY_RESET: { token?: Buffer };
}

export interface HelloAnswer {
  version: number;
  deviceId: string;
  firmwareVersion: string;
  boardId: string;
  keyTypes: number[];
  keyStores: number[];
  state: number;
  maxFrame: number;
  baudRates: number[];
  /** The firmware build running (ESP-IDF's app description), when the device reports it. */
  buildVersion?: string;
  /** SHA-256 of the ELF the running firmware was made from: the build's identity. */
  buildSha256?: Buffer;
}

export interface StatusAnswer {
  state: number;
  keyType?: number;
  keyStore?: number;
  publicKeySha256?: Buffer;
  pendingKeySha256?: Buffer;
  thingName?: string;
  endpoint?: string;
  mqttPort?: number;
  topic?: string;
  certSha256?: Buffer;
  generation?: number;
  setDigest?: Buffer;
  stagedLength?: number;
}

export interface Answers {
  HELLO: HelloAnswer;
  STATUS: StatusAnswer;
  PING: { data?: Buffer };
  SET_BAUD: { baud: number };
  GENERATE_KEY: { keyType: number; keyStore: number; publicKey: Buffer; created: boolean };
  GET_CSR: { csr: Buffer };
  WRITE_CREDENTIALS: { stagedLength: number; digest: Buffer };
  COMMIT: { setDigest: Buffer; certDigest: Buffer; generation: number };
  RESTART: Record<string, never>;
  LOCK: Record<string, never>;
  FACTORY_RESET: { token?: Buffer };
}

export type CommandName = keyof Requests;

export interface DeviceEvent {
  code: number;
  text?: string;
  value?: number;
}

/** A decoded response: the answer fields on OK, else the device's error code, its name and text. */
export type Response<F> =
  | { ok: true; fields: F }
  | { ok: false; status: number; error: string; text: string };

/** Decoder result: never thrown. `status` is what a device answers for a bad request. */

const COMMAND_NAMES = Object.keys(MESSAGE_FIELDS) as CommandName[];
/** The command name for a request type, or undefined (EVENT and unknown types). */
export function commandName(type: number): CommandName | undefined {
  const n = messageName(type);
  return (COMMAND_NAMES as string[]).includes(n) ? (n as CommandName) : undefined;
}

export function encodeRequest<N extends CommandName>(name: N, fields: Requests[N]): Buffer {
  return encodeFields(MESSAGE_FIELDS[name].request, fields);
}

export function decodeRequest<N extends CommandName>(name: N, payload: Uint8Array): Decoded<Requests[N]> {
  return decodeFields<Requests[N]>(MESSAGE_FIELDS[name].request, payload);
}

/** Response payload: status 0 and the answer fields. */
export function encodeOkResponse<N extends CommandName>(name: N, fields: Answers[N]): Buffer {
  return Buffer.concat([Buffer.from([STATUS.OK]), encodeFields(MESSAGE_FIELDS[name].response, fields)]);
}

const ERROR_TEXT_FIELDS = [
  { tag: 0x01, name: "text", kind: "str", max: ERROR_TEXT_MAX },
] as const satisfies FieldSpec[];

/** Response payload: a non-zero status and a short English text (cut to 96 bytes on a character boundary). */
export function encodeErrorResponse(status: number, text: string): Buffer {
  if (!Number.isInteger(status) || status < 1 || status > 0xff)
    throw new TypeError(`error status must be 1..255, got ${status}`);
  let t = text.replaceAll("\0", "");
  while (Buffer.byteLength(t, "utf8") > ERROR_TEXT_MAX) t = t.slice(0, -1);
  return Buffer.concat([Buffer.from([status]), encodeFields(ERROR_TEXT_FIELDS, { text: t })]);
}

export function encodeResponse<N extends CommandName>(name: N, response: Response<Answers[N]>): Buffer {
  return response.ok
    ? encodeOkResponse(name, response.fields)
    : encodeErrorResponse(response.status, response.text);
}

export function decodeResponse<N extends CommandName>(
  name: N,
  payload: Uint8Array,
): Decoded<Response<Answers[N]>> {
  return decodeResponseWith<Answers[N]>(MESSAGE_FIELDS[name].response, payload);
}

function decodeResponseWith<F>(specs: readonly FieldSpec[], payload: Uint8Array): Decoded<Response<F>> {
  if (payload.length < 1)
    return {
      ok: false,
      status: STATUS.ERR_BAD_PAYLOAD,
      detail: "response payload is empty (no status byte)",
    };
  const status = payload[0] as number;
  const rest = payload.subarray(1);
  if (status === STATUS.OK) {
    const f = decodeFields<F>(specs, rest);
    return f.ok ? { ok: true, value: { ok: true, fields: f.value } } : f;
  }
  // Lenient on the error text: the status alone already says what happened.
  const t = decodeFields<{ text?: string }>([{ tag: 0x01, name: "text", kind: "str" }], rest);
  return {
    ok: true,
    value: { ok: false, status, error: statusName(status), text: t.ok ? (t.value.text ?? "") : "" },
  };
}

export function encodeChunkAck(received: number): Buffer {
  return Buffer.concat([Buffer.from([STATUS.OK]), encodeFields(CHUNK_ACK_FIELDS, { received })]);
}

export function decodeChunkAck(payload: Uint8Array): Decoded<Response<{ received: number }>> {
  return decodeResponseWith<{ received: number }>(CHUNK_ACK_FIELDS, payload);
}

export function encodeEvent(event: DeviceEvent): Buffer {
  return encodeFields(EVENT_FIELDS, event);
}

export function decodeEvent(payload: Uint8Array): Decoded<DeviceEvent> {
  return decodeFields<DeviceEvent>(EVENT_FIELDS, payload);
}
