/**
 * Generates test/vectors/{frames,messages,chunks}.json (docs/protocol.md
 * section 8) from semantic descriptions: each wire piece is written next to
 * what a receiver must make of it, so the expectations never come from the
 * decoder under test. A few frames are spelled out as literal bytes computed
 * independently (python3 zlib.crc32 + base64) to keep the encoder honest; the
 * generator refuses to write anything if the encoder disagrees with them or
 * if our own receiver/codec disagrees with the descriptions.
 *
 * Run: npx tsx scripts/gen-vectors.ts
 */
import { createECDH, createHash } from "node:crypto";
import { writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { isDeepStrictEqual } from "node:util";
import {
  type Answers,
  type CommandName,
  crc32,
  DEVICE_STATE,
  type DeviceEvent,
  decodeChunkAck,
  decodeEvent,
  decodeRequest,
  decodeResponse,
  decodeTlv,
  EVENT_CODE,
  encodeChunkAck,
  encodeErrorResponse,
  encodeEvent,
  encodeFrame,
  encodeFrameBody,
  encodeOkResponse,
  encodeRequest,
  FLAG_CHUNK,
  FLAG_RESPONSE,
  type Frame,
  FrameReceiver,
  fieldsToJson,
  KEY_STORE,
  KEY_TYPE,
  MSG,
  type ReceiverEvent,
  type Requests,
  STATUS,
  splitIntoChunks,
  statusName,
} from "../src/protocol/index.js";

const OUT_DIR = join(dirname(fileURLToPath(import.meta.url)), "..", "test", "vectors");

// ---- deterministic sample data -------------------------------------------

/** xorshift32: reproducible filler so regenerating gives identical files. */
function prng(seed: number): (n: number) => Buffer {
  let x = seed >>> 0 || 1;
  return (n) => {
    const b = Buffer.alloc(n);
    for (let i = 0; i < n; i++) {
      x ^= x << 13;
      x >>>= 0;
      x ^= x >>> 17;
      x ^= x << 5;
      x >>>= 0;
      b[i] = x & 0xff;
    }
    return b;
  };
}

/** A PEM block of exactly `totalBytes` characters (shape of a real certificate; content is filler). */
export function fakePem(label: string, totalBytes: number, seed: number): string {
  const head = `-----BEGIN ${label}-----\n`;
  const tail = `-----END ${label}-----\n`;
  const rand = prng(seed);
  let body = "";
  while (head.length + body.length + tail.length < totalBytes) body += rand(48).toString("base64");
  let room = totalBytes - head.length - tail.length;
  const lines: string[] = [];
  // 64-character lines plus '\n' as in real PEM files.
  while (room > 0) {
    const n = Math.min(64, room - 1);
    if (n <= 0) break;
    lines.push(body.slice(0, n));
    body = body.slice(n);
    room -= n + 1;
  }
  let pem = head + lines.map((l) => `${l}\n`).join("") + tail;
  while (pem.length < totalBytes) pem = pem.replace(`\n${tail}`, `A\n${tail}`);
  return pem;
}

// A real P-256 public key (SubjectPublicKeyInfo DER) and a real CSR made by
// `openssl req -new -utf8 -subj "/C=JP/O=株式会社テスト/CN=esp32-a1b2c3d4e5f6"` with it.
const SPKI_P256 = Buffer.from(
  "3059301306072a8648ce3d020106082a8648ce3d030107034200043758ba69de71db7f1389d2c04cc24f5bc762d0ee99c30435e2282ea7cbcbb03ceae1d049f9995bde6b16821c916225dc8a6da9735a1e665e0d7c0ce01945dda3",
  "hex",
);
const CSR_P256_UTF8 = Buffer.from(
  "308201043081ac020100304a310b3009060355040613024a50311e301c060355040a0c15e6a0aae5bc8fe4bc9ae7a4bee38386e382b9e38388311b301906035504030c1265737033322d6131623263336434653566363059301306072a8648ce3d020106082a8648ce3d030107034200043758ba69de71db7f1389d2c04cc24f5bc762d0ee99c30435e2282ea7cbcbb03ceae1d049f9995bde6b16821c916225dc8a6da9735a1e665e0d7c0ce01945dda3a000300a06082a8648ce3d0403020347003044022003b52a7703110f00ec6b10fe5e0f28f5e9e15e38e059b785fce3ffa59d948d1c022062136b109f7bb4e85ef59ac8ad36dbb275d15a72b5131a111fe20ef4f1745470",
  "hex",
);
if (!CSR_P256_UTF8.includes(SPKI_P256)) throw new Error("sample CSR does not carry the sample key");
// A second key (P-384 public point from a fixed private scalar) for the rotation status.
const ecdh384 = createECDH("secp384r1");
ecdh384.setPrivateKey(Buffer.alloc(48, 7));
const SPKI_P384 = Buffer.concat([
  Buffer.from("3076301006072a8648ce3d020106052b81040022036200", "hex"),
  ecdh384.getPublicKey(),
]);

const sha = (b: Buffer | string) => createHash("sha256").update(b).digest();

export const SAMPLE_CERT_PEM = fakePem("CERTIFICATE", 1300, 11);
export const SAMPLE_ROOT_CA1_PEM = fakePem("CERTIFICATE", 1188, 12);
export const SAMPLE_ROOT_CA3_PEM = fakePem("CERTIFICATE", 656, 13);
export const SAMPLE_ENDPOINT = "a1b2c3d4e5f6g7-ats.iot.eu-west-1.amazonaws.com";

const credentialSet: Requests["WRITE_CREDENTIALS"] = {
  certificatePem: SAMPLE_CERT_PEM,
  rootCaPem: SAMPLE_ROOT_CA1_PEM + SAMPLE_ROOT_CA3_PEM,
  endpoint: SAMPLE_ENDPOINT,
  mqttPort: 8883,
  thingName: "esp32-a1b2c3d4e5f6",
  topic: "devices/esp32-a1b2c3d4e5f6/counter",
  publishIntervalMs: 5000,
  wifiSsid: "Werkstatt-Gäste",
  wifiPassword: "correct horse battery staple",
};
const credentialPayload = encodeRequest("WRITE_CREDENTIALS", credentialSet);

// ---- messages ------------------------------------------------------------

type MessageVector =
  | { name: string; kind: "request"; command: CommandName; seq: number; fields: object }
  | { name: string; kind: "response"; command: CommandName; seq: number; fields: object }
  | { name: string; kind: "error"; command: CommandName; seq: number; status: number; text: string }
  | { name: string; kind: "event"; seq: number; event: DeviceEvent }
  | { name: string; kind: "chunk_ack"; seq: number; received: number };

const helloAnswer: Answers["HELLO"] = {
  version: 1,
  deviceId: "a1b2c3d4e5f6",
  firmwareVersion: "1.0.0",
  boardId: "esp32-devkitc",
  keyTypes: [KEY_TYPE.EC_P256, KEY_TYPE.EC_P384, KEY_TYPE.RSA_2048],
  keyStores: [KEY_STORE.NVS, KEY_STORE.NVS_ENCRYPTED],
  state: DEVICE_STATE.EMPTY,
  maxFrame: 2048,
  baudRates: [115200, 460800, 921600],
};

const messages: MessageVector[] = [
  { name: "HELLO request", kind: "request", command: "HELLO", seq: 1, fields: { hostVersion: 1 } },
  { name: "HELLO response", kind: "response", command: "HELLO", seq: 1, fields: helloAnswer },
  {
    name: "HELLO response, small max_frame, twin",
    kind: "response",
    command: "HELLO",
    seq: 1,
    fields: {
      ...helloAnswer,
      boardId: "host-twin",
      keyStores: [KEY_STORE.FILE],
      maxFrame: 256,
      baudRates: [],
    },
  },
  { name: "STATUS request", kind: "request", command: "STATUS", seq: 2, fields: {} },
  {
    name: "STATUS response, empty",
    kind: "response",
    command: "STATUS",
    seq: 2,
    fields: { state: DEVICE_STATE.EMPTY },
  },
  {
    name: "STATUS response, provisioned with pending rotation key",
    kind: "response",
    command: "STATUS",
    seq: 2,
    fields: {
      state: DEVICE_STATE.PROVISIONED,
      keyType: KEY_TYPE.EC_P256,
      keyStore: KEY_STORE.NVS,
      publicKeySha256: sha(SPKI_P256),
      pendingKeySha256: sha(SPKI_P384),
      thingName: credentialSet.thingName,
      endpoint: credentialSet.endpoint,
      mqttPort: 8883,
      topic: credentialSet.topic,
      certSha256: sha(SAMPLE_CERT_PEM),
      generation: 3,
      setDigest: sha(credentialPayload),
    },
  },
  {
    name: "STATUS response, staged",
    kind: "response",
    command: "STATUS",
    seq: 2,
    fields: {
      state: DEVICE_STATE.STAGED,
      keyType: 3,
      keyStore: 3,
      publicKeySha256: sha("rsa"),
      stagedLength: credentialPayload.length,
    },
  },
  { name: "PING request, no data", kind: "request", command: "PING", seq: 3, fields: {} },
  { name: "PING request, 64 bytes", kind: "request", command: "PING", seq: 4, fields: { data: prng(5)(64) } },
  {
    name: "PING response, 64 bytes",
    kind: "response",
    command: "PING",
    seq: 4,
    fields: { data: prng(5)(64) },
  },
  { name: "PING response, no data", kind: "response", command: "PING", seq: 3, fields: {} },
  { name: "SET_BAUD request", kind: "request", command: "SET_BAUD", seq: 5, fields: { baud: 921600 } },
  { name: "SET_BAUD response", kind: "response", command: "SET_BAUD", seq: 5, fields: { baud: 921600 } },
  {
    name: "SET_BAUD error, bad baud",
    kind: "error",
    command: "SET_BAUD",
    seq: 5,
    status: STATUS.ERR_BAD_BAUD,
    text: "baud 12345 not supported",
  },
  {
    name: "GENERATE_KEY request",
    kind: "request",
    command: "GENERATE_KEY",
    seq: 6,
    fields: { keyType: KEY_TYPE.EC_P256, keyStore: KEY_STORE.NVS },
  },
  {
    name: "GENERATE_KEY request, force",
    kind: "request",
    command: "GENERATE_KEY",
    seq: 6,
    fields: { keyType: KEY_TYPE.RSA_2048, keyStore: KEY_STORE.DS, force: true },
  },
  {
    name: "GENERATE_KEY response, created",
    kind: "response",
    command: "GENERATE_KEY",
    seq: 6,
    fields: { keyType: KEY_TYPE.EC_P256, keyStore: KEY_STORE.NVS, publicKey: SPKI_P256, created: true },
  },
  {
    name: "GENERATE_KEY response, existing P-384 key",
    kind: "response",
    command: "GENERATE_KEY",
    seq: 6,
    fields: {
      keyType: KEY_TYPE.EC_P384,
      keyStore: KEY_STORE.NVS_ENCRYPTED,
      publicKey: SPKI_P384,
      created: false,
    },
  },
  {
    name: "GENERATE_KEY error, unsupported store",
    kind: "error",
    command: "GENERATE_KEY",
    seq: 6,
    status: STATUS.ERR_UNSUPPORTED,
    text: "key store atecc608 not on this board",
  },
  {
    name: "GET_CSR request, UTF-8 subject",
    kind: "request",
    command: "GET_CSR",
    seq: 7,
    fields: {
      C: "JP",
      ST: "東京都",
      L: "千代田区",
      O: "株式会社テスト",
      OU: "Fertigung Süd",
      CN: "esp32-a1b2c3d4e5f6",
    },
  },
  {
    name: "GET_CSR request, CN only",
    kind: "request",
    command: "GET_CSR",
    seq: 7,
    fields: { CN: "esp32-a1b2c3d4e5f6" },
  },
  { name: "GET_CSR response", kind: "response", command: "GET_CSR", seq: 7, fields: { csr: CSR_P256_UTF8 } },
  {
    name: "GET_CSR error, no key",
    kind: "error",
    command: "GET_CSR",
    seq: 7,
    status: STATUS.ERR_NO_KEY,
    text: "no key: send GENERATE_KEY first",
  },
  {
    name: "WRITE_CREDENTIALS request, minimal",
    kind: "request",
    command: "WRITE_CREDENTIALS",
    seq: 8,
    fields: {
      certificatePem: "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
      rootCaPem: "",
      endpoint: "127.0.0.1",
      mqttPort: 1883,
      thingName: "twin-1",
      topic: "t",
      publishIntervalMs: 1000,
    },
  },
  {
    name: "WRITE_CREDENTIALS response",
    kind: "response",
    command: "WRITE_CREDENTIALS",
    seq: 8,
    fields: { stagedLength: credentialPayload.length, digest: sha(credentialPayload) },
  },
  { name: "WRITE_CREDENTIALS chunk ack", kind: "chunk_ack", seq: 8, received: 2003 },
  {
    name: "WRITE_CREDENTIALS error, bad cert",
    kind: "error",
    command: "WRITE_CREDENTIALS",
    seq: 10,
    status: STATUS.ERR_BAD_CERT,
    text: "certificate does not parse: -0x2180",
  },
  {
    name: "WRITE_CREDENTIALS error, chunk",
    kind: "error",
    command: "WRITE_CREDENTIALS",
    seq: 10,
    status: STATUS.ERR_CHUNK,
    text: "expected offset 2003",
  },
  { name: "COMMIT request", kind: "request", command: "COMMIT", seq: 11, fields: {} },
  {
    name: "COMMIT response",
    kind: "response",
    command: "COMMIT",
    seq: 11,
    fields: { setDigest: sha(credentialPayload), certDigest: sha(SAMPLE_CERT_PEM), generation: 1 },
  },
  {
    name: "COMMIT error, key mismatch",
    kind: "error",
    command: "COMMIT",
    seq: 11,
    status: STATUS.ERR_KEY_MISMATCH,
    text: "certificate key is not the device key",
  },
  { name: "RESTART request, default delay", kind: "request", command: "RESTART", seq: 12, fields: {} },
  { name: "RESTART request, 500 ms", kind: "request", command: "RESTART", seq: 12, fields: { delayMs: 500 } },
  { name: "RESTART response", kind: "response", command: "RESTART", seq: 12, fields: {} },
  { name: "LOCK request", kind: "request", command: "LOCK", seq: 13, fields: { confirmation: "LOCK" } },
  { name: "LOCK response", kind: "response", command: "LOCK", seq: 13, fields: {} },
  {
    name: "LOCK error, wrong state",
    kind: "error",
    command: "LOCK",
    seq: 13,
    status: STATUS.ERR_WRONG_STATE,
    text: "state is KEYED, LOCK needs PROVISIONED",
  },
  { name: "FACTORY_RESET request, step 1", kind: "request", command: "FACTORY_RESET", seq: 14, fields: {} },
  {
    name: "FACTORY_RESET response, token",
    kind: "response",
    command: "FACTORY_RESET",
    seq: 14,
    fields: { token: Buffer.from("0123456789abcdef", "hex") },
  },
  {
    name: "FACTORY_RESET request, step 2",
    kind: "request",
    command: "FACTORY_RESET",
    seq: 15,
    fields: { token: Buffer.from("0123456789abcdef", "hex") },
  },
  { name: "FACTORY_RESET response, done", kind: "response", command: "FACTORY_RESET", seq: 15, fields: {} },
  {
    name: "FACTORY_RESET error, bad token",
    kind: "error",
    command: "FACTORY_RESET",
    seq: 15,
    status: STATUS.ERR_BAD_TOKEN,
    text: "token wrong or stale",
  },
  {
    name: "error, locked",
    kind: "error",
    command: "GENERATE_KEY",
    seq: 16,
    status: STATUS.ERR_LOCKED,
    text: "device is locked",
  },
  {
    name: "error, version",
    kind: "error",
    command: "HELLO",
    seq: 17,
    status: STATUS.ERR_VERSION,
    text: "supported versions: 1",
  },
  {
    name: "error, internal, empty text",
    kind: "error",
    command: "STATUS",
    seq: 18,
    status: STATUS.ERR_INTERNAL,
    text: "",
  },
  { name: "EVENT BOOT", kind: "event", seq: 1, event: { code: EVENT_CODE.BOOT, text: "boot" } },
  {
    name: "EVENT NETWORK_UP",
    kind: "event",
    seq: 2,
    event: { code: EVENT_CODE.NETWORK_UP, text: "192.168.4.17" },
  },
  { name: "EVENT MQTT_CONNECTED", kind: "event", seq: 3, event: { code: EVENT_CODE.MQTT_CONNECTED } },
  { name: "EVENT PUBLISHED", kind: "event", seq: 4, event: { code: EVENT_CODE.PUBLISHED, value: 42 } },
  {
    name: "EVENT ERROR",
    kind: "event",
    seq: 5,
    event: { code: EVENT_CODE.ERROR, text: "tls: -0x7780", value: STATUS.ERR_CRYPTO },
  },
  {
    name: "EVENT MESSAGE_RECEIVED",
    kind: "event",
    seq: 6,
    event: { code: EVENT_CODE.MESSAGE_RECEIVED, text: "devices/esp32-a1b2c3d4e5f6/cmd" },
  },
];

interface Built {
  json: Record<string, unknown>;
  frame: Frame;
}

function buildMessage(m: MessageVector): Built {
  let type: number;
  let flags: number;
  let payload: Buffer;
  let fields: Record<string, unknown>;
  let status: number | undefined;
  switch (m.kind) {
    case "request":
      type = MSG[m.command];
      flags = 0;
      payload = encodeRequest(m.command, m.fields as never);
      fields = fieldsToJson(m.fields);
      break;
    case "response":
      type = MSG[m.command];
      flags = FLAG_RESPONSE;
      payload = encodeOkResponse(m.command, m.fields as never);
      fields = { ok: true, fields: fieldsToJson(m.fields) };
      status = 0;
      break;
    case "error":
      type = MSG[m.command];
      flags = FLAG_RESPONSE;
      payload = encodeErrorResponse(m.status, m.text);
      fields = { ok: false, status: m.status, error: statusName(m.status), text: m.text };
      status = m.status;
      break;
    case "event":
      type = MSG.EVENT;
      flags = 0;
      payload = encodeEvent(m.event);
      fields = fieldsToJson(m.event);
      break;
    case "chunk_ack":
      type = MSG.WRITE_CREDENTIALS;
      flags = FLAG_RESPONSE | FLAG_CHUNK;
      payload = encodeChunkAck(m.received);
      fields = { ok: true, fields: { received: m.received } };
      status = 0;
      break;
  }
  const tlvBytes = status === undefined ? payload : payload.subarray(1);
  const tlv = decodeTlv(tlvBytes);
  if (!tlv.ok) throw new Error(`${m.name}: own TLV does not parse`);
  selfCheckMessage(m, payload);
  return {
    json: {
      name: m.name,
      kind: m.kind,
      command: m.kind === "event" ? "EVENT" : m.kind === "chunk_ack" ? "WRITE_CREDENTIALS" : m.command,
      type,
      flags,
      payload_hex: payload.toString("hex"),
      tlv: {
        ...(status === undefined ? {} : { status }),
        fields: tlv.fields.map((f) => ({ tag: f.tag, hex: f.value.toString("hex") })),
      },
      fields,
    },
    frame: { version: 1, type, seq: m.seq, flags, payload },
  };
}

function selfCheckMessage(m: MessageVector, payload: Buffer): void {
  const fail = (got: unknown) => {
    throw new Error(`${m.name}: codec disagrees with the description: ${JSON.stringify(got)}`);
  };
  switch (m.kind) {
    case "request": {
      const d = decodeRequest(m.command, payload);
      if (!d.ok || !isDeepStrictEqual(fieldsToJson(d.value), fieldsToJson(m.fields))) fail(d);
      return;
    }
    case "response": {
      const d = decodeResponse(m.command, payload);
      if (!d.ok || !d.value.ok || !isDeepStrictEqual(fieldsToJson(d.value.fields), fieldsToJson(m.fields)))
        fail(d);
      return;
    }
    case "error": {
      const d = decodeResponse(m.command, payload);
      if (!d.ok || d.value.ok || d.value.status !== m.status || d.value.text !== m.text) fail(d);
      return;
    }
    case "event": {
      const d = decodeEvent(payload);
      if (!d.ok || !isDeepStrictEqual(d.value, m.event)) fail(d);
      return;
    }
    case "chunk_ack": {
      const d = decodeChunkAck(payload);
      if (!d.ok || !d.value.ok || d.value.fields.received !== m.received) fail(d);
    }
  }
}

// ---- frame streams -------------------------------------------------------

type Expect =
  | { kind: "frame"; version: number; type: number; seq: number; flags: number; payload_hex: string }
  | { kind: "log"; text: string }
  | { kind: "error"; error: string; version?: number; type?: number; seq?: number };

interface Piece {
  wire: Buffer;
  expect: Expect[];
}

const frameExpect = (f: Frame): Expect => ({
  kind: "frame",
  version: f.version,
  type: f.type,
  seq: f.seq,
  flags: f.flags,
  payload_hex: f.payload.toString("hex"),
});
/** A frame line as the device writes it. */
const frame = (f: Frame, eol = "\n"): Piece => {
  const line = encodeFrame(f);
  return {
    wire: Buffer.concat([line.subarray(0, -1), Buffer.from(eol, "latin1")]),
    expect: [frameExpect(f)],
  };
};
/** A log line as ESP-IDF writes it (CRLF), expected back without the CRLF. */
const log = (text: string, eol = "\r\n"): Piece => ({
  wire: Buffer.from(text + eol, "utf8"),
  expect: text ? [{ kind: "log", text }] : [],
});
/** Bytes with an explicit expectation. */
const raw = (wire: Buffer | string, ...expect: Expect[]): Piece => ({
  wire: Buffer.isBuffer(wire) ? wire : Buffer.from(wire, "latin1"),
  expect,
});
const err = (error: string): Expect => ({ kind: "error", error });

const GREEN = "\x1b[0;32m";
const YELLOW = "\x1b[0;33m";
const RED = "\x1b[0;31m";
const RESET = "\x1b[0m";

const ROM_BANNER = [
  "ets Jun  8 2016 00:22:57",
  "",
  "rst:0x1 (POWERON_RESET),boot:0x13 (SPI_FAST_FLASH_BOOT)",
  "configsip: 0, SPIWP:0xee",
  "clk_drv:0x00,q_drv:0x00,d_drv:0x00,cs0_drv:0x00,hd_drv:0x00,wp_drv:0x00",
  "mode:DIO, clock div:2",
  "load:0x3fff0030,len:7112",
  "load:0x40078000,len:15624",
  "load:0x40080400,len:4",
  "ho 8 tail 4 room 4",
  "load:0x40080404,len:3876",
  "entry 0x4008064c",
];

const IDF_LINES = [
  `${GREEN}I (29) boot: ESP-IDF v5.2.1 2nd stage bootloader${RESET}`,
  `${GREEN}I (29) boot: compile time Nov 27 2026 07:12:44${RESET}`,
  `${GREEN}I (31) boot: Multicore bootloader${RESET}`,
  `${GREEN}I (35) boot: chip revision: v3.0${RESET}`,
  `${GREEN}I (269) cpu_start: Pro cpu start user code${RESET}`,
  `${GREEN}I (269) cpu_start: cpu freq: 160000000 Hz${RESET}`,
  `${GREEN}I (303) spi_flash: detected chip: generic${RESET}`,
  `${YELLOW}W (309) spi_flash: Detected size(4096k) larger than the size in the binary image header(2048k). Using the size in the binary image header.${RESET}`,
  `${GREEN}I (329) main_task: Started on CPU0${RESET}`,
  `${GREEN}I (339) prov: provisioning core ready, protocol 1${RESET}`,
  `${GREEN}I (1234) wifi:wifi driver task: 3ffc1e4c, prio:23, stack:6656, core=0${RESET}`,
  `${GREEN}I (1250) wifi:wifi firmware version: 3ce09e5${RESET}`,
  `${RED}E (2210) esp-tls-mbedtls: mbedtls_ssl_handshake returned -0x7780${RESET}`,
];

const ok = (t: number, seq: number, payload: Buffer): Frame => ({
  version: 1,
  type: t,
  seq,
  flags: FLAG_RESPONSE,
  payload,
});
const helloFrame = ok(MSG.HELLO, 1, encodeOkResponse("HELLO", helloAnswer));
const statusFrame = ok(MSG.STATUS, 2, encodeOkResponse("STATUS", { state: DEVICE_STATE.KEYED }));
const bootEvent: Frame = {
  version: 1,
  type: MSG.EVENT,
  seq: 1,
  flags: 0,
  payload: encodeEvent({ code: EVENT_CODE.BOOT, text: "boot" }),
};
const pingReq: Frame = {
  version: 1,
  type: MSG.PING,
  seq: 9,
  flags: 0,
  payload: encodeRequest("PING", { data: Buffer.from("hi") }),
};

function b64Line(body: Buffer): Buffer {
  return Buffer.from(`\x1e${body.toString("base64")}\n`, "latin1");
}
/** Appends a correct CRC, so only the property under test is wrong. */
function withCrc(body: Buffer): Buffer {
  const b = Buffer.concat([body, Buffer.alloc(4)]);
  b.writeUInt32BE(crc32(body), b.length - 4);
  return b;
}
const goodBody = encodeFrameBody(statusFrame);
const badCrcBody = Buffer.from(goodBody);
badCrcBody[badCrcBody.length - 1] = (badCrcBody[badCrcBody.length - 1] as number) ^ 0x01;
const flippedPayloadBody = Buffer.from(goodBody);
flippedPayloadBody[5] = (flippedPayloadBody[5] as number) ^ 0x80;
const v2Body = encodeFrameBody({
  version: 2,
  type: MSG.HELLO,
  seq: 0x1234,
  flags: 0,
  payload: Buffer.from("01000102", "hex"),
});
const v0Body = encodeFrameBody({ version: 0, type: MSG.STATUS, seq: 7, flags: 1, payload: Buffer.alloc(0) });
// Largest legal body (2048) and one byte more: the latter still fits FRAME_LINE_MAX, so the decoder says oversize.
const maxBody = encodeFrameBody({
  version: 1,
  type: MSG.PING,
  seq: 3,
  flags: 0,
  payload: prng(21)(2048 - 9),
});
const overBody = withCrc(Buffer.concat([Buffer.from([1, MSG.PING, 0, 3, 0]), prng(22)(2049 - 9)]));
const maxFrameObj = { version: 1, type: MSG.PING, seq: 3, flags: 0, payload: maxBody.subarray(5, -4) };

const streams: { name: string; pieces: Piece[] }[] = [
  { name: "single frame: HELLO response", pieces: [frame(helloFrame)] },
  { name: "frame ended by CRLF", pieces: [frame(statusFrame, "\r\n")] },
  {
    name: "CR inside a frame line is ignored",
    pieces: [
      raw(
        Buffer.concat([
          encodeFrame(pingReq).subarray(0, 6),
          Buffer.from("\r"),
          encodeFrame(pingReq).subarray(6),
        ]),
        frameExpect(pingReq),
      ),
    ],
  },
  {
    name: "ROM boot banner, ESP-IDF boot log with colours, BOOT event, HELLO response",
    pieces: [
      ...ROM_BANNER.map((l) => log(l)),
      ...IDF_LINES.slice(0, 10).map((l) => log(l)),
      frame(bootEvent),
      log(IDF_LINES[10] as string),
      frame(helloFrame),
      log(IDF_LINES[11] as string),
    ],
  },
  {
    name: "log line and frame on the same line",
    pieces: [
      raw(`${GREEN}I (1234) wifi: connected${RESET}`, {
        kind: "log",
        text: `${GREEN}I (1234) wifi: connected${RESET}`,
      }),
      frame(statusFrame),
      log("I (1240) after"),
    ],
  },
  {
    name: "log text ending in CR directly before a frame keeps the CR",
    pieces: [raw("I (7) partial\r", { kind: "log", text: "I (7) partial\r" }), frame(statusFrame)],
  },
  {
    name: "empty lines and bare CRLFs are dropped",
    pieces: [raw("\n\r\n\n"), log("I (1) x"), raw("\r\n"), frame(statusFrame)],
  },
  { name: "log line with LF only", pieces: [log("plain line", "\n"), frame(statusFrame)] },
  { name: "UTF-8 log text", pieces: [log("I (55) prov: O=株式会社テスト CN=esp32 ✓"), frame(statusFrame)] },
  {
    name: "log line longer than LOG_LINE_MAX is split in 1024-byte pieces",
    pieces: [
      raw(
        `${"a".repeat(1024)}${"b".repeat(1024)}cc\r\n`,
        { kind: "log", text: "a".repeat(1024) },
        { kind: "log", text: "b".repeat(1024) },
        { kind: "log", text: "cc" },
      ),
      raw(`${"d".repeat(1024)}\r\n`, { kind: "log", text: "d".repeat(1024) }),
      frame(statusFrame),
    ],
  },
  {
    name: "bad CRC (CRC byte flipped), then a good frame",
    pieces: [raw(b64Line(badCrcBody), err("bad_crc")), frame(statusFrame)],
  },
  {
    name: "bad CRC (payload bit flipped)",
    pieces: [raw(b64Line(flippedPayloadBody), err("bad_crc")), frame(statusFrame)],
  },
  {
    name: "truncated: 8-byte body",
    pieces: [raw(b64Line(goodBody.subarray(0, 8)), err("truncated")), frame(statusFrame)],
  },
  { name: "truncated: empty frame line", pieces: [raw("\x1e\n", err("truncated")), frame(statusFrame)] },
  {
    name: "bad base64: length not a multiple of 4",
    pieces: [raw("\x1eAQIAAgEAB\n", err("bad_base64")), frame(statusFrame)],
  },
  {
    name: "bad base64: padding in the middle",
    pieces: [raw("\x1eAQ==AgEA\n", err("bad_base64")), frame(statusFrame)],
  },
  {
    name: "bad base64: three padding characters",
    pieces: [raw("\x1eAQIAA===\n", err("bad_base64")), frame(statusFrame)],
  },
  {
    name: "bad char: a coloured log line cuts into a frame",
    pieces: [
      raw(
        Buffer.concat([
          encodeFrame(helloFrame).subarray(0, 20),
          Buffer.from(`${GREEN}I (4000) wifi: sta start${RESET}\r\n`),
        ]),
        err("bad_char"),
        { kind: "log", text: `${GREEN}I (4000) wifi: sta start${RESET}` },
      ),
      frame(statusFrame),
    ],
  },
  {
    name: "bad char: uncoloured log line cuts into a frame (its 'I' joins the frame)",
    pieces: [
      raw(
        Buffer.concat([encodeFrame(helloFrame).subarray(0, 12), Buffer.from("I (4001) x\r\n")]),
        err("bad_char"),
        { kind: "log", text: " (4001) x" },
      ),
      frame(statusFrame),
    ],
  },
  {
    name: "bad char: a new start marker inside a frame starts a new frame",
    pieces: [raw(encodeFrame(helloFrame).subarray(0, 30), err("bad_char")), frame(statusFrame)],
  },
  { name: "two start markers in a row", pieces: [raw("\x1e", err("bad_char")), frame(statusFrame)] },
  {
    name: "oversize: frame line over FRAME_LINE_MAX, skipped to the newline",
    pieces: [
      raw(`\x1e${"A".repeat(2737)}${"B".repeat(100)}\n`, err("oversize")),
      log("I (9) next"),
      frame(statusFrame),
    ],
  },
  {
    name: "oversize: skipped line ended by a start marker",
    pieces: [raw(`\x1e${"QUJD".repeat(700)}`, err("oversize")), frame(statusFrame)],
  },
  { name: "largest frame body (2048 bytes)", pieces: [frame(maxFrameObj)] },
  {
    name: "oversize: body of 2049 bytes within FRAME_LINE_MAX",
    pieces: [raw(b64Line(overBody), err("oversize")), frame(statusFrame)],
  },
  {
    name: "unknown version 2",
    pieces: [
      raw(b64Line(v2Body), { kind: "error", error: "bad_version", version: 2, type: MSG.HELLO, seq: 0x1234 }),
      frame(statusFrame),
    ],
  },
  {
    name: "unknown version 0",
    pieces: [
      raw(b64Line(v0Body), { kind: "error", error: "bad_version", version: 0, type: MSG.STATUS, seq: 7 }),
    ],
  },
  {
    name: "reserved flag bits are passed through",
    pieces: [
      frame({ version: 1, type: MSG.STATUS, seq: 2, flags: 0xfd, payload: Buffer.from("0007000101", "hex") }),
    ],
  },
  {
    name: "binary noise without markers becomes log text",
    pieces: [
      raw(Buffer.from("I (1) \x01\x02\x7f~ok\r\n", "latin1"), { kind: "log", text: "I (1) \x01\x02\x7f~ok" }),
      frame(statusFrame),
    ],
  },
  {
    name: "invalid UTF-8 in log text is replaced",
    pieces: [
      raw(Buffer.from([0x49, 0x20, 0xff, 0xfe, 0x41, 0x0d, 0x0a]), { kind: "log", text: "I \ufffd\ufffdA" }),
      frame(statusFrame),
    ],
  },
  {
    name: "trailing partial log line is not emitted",
    pieces: [frame(statusFrame), raw("I (5) no newline yet")],
  },
];

// ---- hand-computed vectors -------------------------------------------------
// Bytes computed independently of this code base with python3:
//   body = bytes([v,t]) + seq.to_bytes(2,'big') + bytes([flags]) + payload
//   body += zlib.crc32(body).to_bytes(4,'big'); line = b'\x1e' + base64.b64encode(body) + b'\n'
const LITERAL: { name: string; hex: string; frame: Frame }[] = [
  {
    name: "literal: PING request seq 1, empty payload",
    hex: "1e41514d4141514477374541430a",
    frame: { version: 1, type: 0x03, seq: 1, flags: 0, payload: Buffer.alloc(0) },
  },
  {
    name: "literal: HELLO request seq 1, host version 1",
    hex: "1e415145414151414241414542494353315a413d3d0a",
    frame: { version: 1, type: 0x01, seq: 1, flags: 0, payload: Buffer.from("01000101", "hex") },
  },
  {
    name: "literal: STATUS response seq 2, state EMPTY",
    hex: "1e41514941416745414277414241507178344c6f3d0a",
    frame: { version: 1, type: 0x02, seq: 2, flags: 1, payload: Buffer.from("0007000100", "hex") },
  },
  {
    name: "literal: EVENT BOOT seq 7, text 'boot'",
    hex: "1e41584141427741424141454241674145596d3976644359564378773d0a",
    frame: {
      version: 1,
      type: 0x70,
      seq: 7,
      flags: 0,
      payload: Buffer.from("01000101020004626f6f74", "hex"),
    },
  },
  {
    name: "literal: GET_CSR error response seq 3, ERR_NO_KEY 'no key'",
    hex: "1e415245414177454641514147626d386761325635545869784b773d3d0a",
    frame: { version: 1, type: 0x11, seq: 3, flags: 1, payload: Buffer.from("050100066e6f206b6579", "hex") },
  },
];
for (const l of LITERAL) {
  const mine = encodeFrame(l.frame).toString("hex");
  if (mine !== l.hex) throw new Error(`${l.name}: encoder gives ${mine}, independent computation ${l.hex}`);
}

// ---- assemble and self-check -----------------------------------------------

function runReceiver(wire: Buffer, bytewise: boolean): Expect[] {
  const r = new FrameReceiver();
  const events: ReceiverEvent[] = [];
  if (bytewise) for (const b of wire) events.push(...r.push(Buffer.from([b])));
  else events.push(...r.push(wire));
  return events.map((e): Expect => {
    if (e.kind === "frame") return frameExpect(e.frame);
    if (e.kind === "log") return { kind: "log", text: e.text };
    return e.error === "bad_version"
      ? { kind: "error", error: e.error, version: e.version, type: e.type, seq: e.seq }
      : { kind: "error", error: e.error };
  });
}

const builtMessages = messages.map(buildMessage);

const frameVectors: { name: string; wire_hex: string; expect: Expect[] }[] = [];
for (const l of LITERAL) frameVectors.push({ name: l.name, wire_hex: l.hex, expect: [frameExpect(l.frame)] });
for (const [i, b] of builtMessages.entries()) {
  frameVectors.push({
    name: `golden: ${(messages[i] as MessageVector).name}`,
    wire_hex: encodeFrame(b.frame).toString("hex"),
    expect: [frameExpect(b.frame)],
  });
}
for (const s of streams) {
  const wire = Buffer.concat(s.pieces.map((p) => p.wire));
  frameVectors.push({
    name: s.name,
    wire_hex: wire.toString("hex"),
    expect: s.pieces.flatMap((p) => p.expect),
  });
}
for (const v of frameVectors) {
  const wire = Buffer.from(v.wire_hex, "hex");
  for (const bytewise of [false, true]) {
    const got = runReceiver(wire, bytewise);
    if (!isDeepStrictEqual(got, v.expect)) {
      throw new Error(
        `frames "${v.name}" (${bytewise ? "bytewise" : "whole"}): receiver gives ${JSON.stringify(got)}, description says ${JSON.stringify(v.expect)}`,
      );
    }
  }
}

function chunkVector(name: string, payload: Buffer, maxFrame: number) {
  const chunks = splitIntoChunks(payload, maxFrame);
  return {
    name,
    type: MSG.WRITE_CREDENTIALS,
    max_frame: maxFrame,
    payload_hex: payload.toString("hex"),
    frames_hex: chunks.map((c, i) => {
      const f = encodeFrame({
        version: 1,
        type: MSG.WRITE_CREDENTIALS,
        seq: i + 1,
        flags: FLAG_CHUNK,
        payload: c,
      });
      if (f.length - 2 > 4 * Math.ceil(maxFrame / 3))
        throw new Error(`${name}: chunk ${i} exceeds max frame`);
      return f.toString("hex");
    }),
  };
}

const fullSet = credentialPayload;
const certOnly = encodeRequest("WRITE_CREDENTIALS", {
  ...credentialSet,
  rootCaPem: "",
  wifiSsid: undefined,
  wifiPassword: undefined,
});
const chunkVectors = [
  chunkVector(
    `credential set ${fullSet.length} bytes (cert + Amazon Root CA 1 + CA 3 sized), max_frame 2048`,
    fullSet,
    2048,
  ),
  chunkVector(`credential set ${fullSet.length} bytes, max_frame 256`, fullSet, 256),
  chunkVector(`certificate-only set ${certOnly.length} bytes, max_frame 256`, certOnly, 256),
  chunkVector(
    "payload of exactly one chunk's room at max_frame 256 (first chunk only)",
    prng(31)(256 - 9 - 8 - 32),
    256,
  ),
  chunkVector(
    "payload one byte over one chunk at max_frame 256 (1-byte last chunk)",
    prng(32)(256 - 9 - 8 - 32 + 1),
    256,
  ),
  chunkVector("PAYLOAD_MAX (8192) bytes, max_frame 2048", prng(33)(8192), 2048),
];

function write(file: string, description: string, vectors: unknown[]): void {
  writeFileSync(join(OUT_DIR, file), `${JSON.stringify({ description, vectors }, null, 1)}\n`);
  process.stderr.write(`wrote ${file}: ${vectors.length} vectors\n`);
}

write(
  "frames.json",
  "Protocol v1 frame/line-splitter vectors (docs/protocol.md sections 2, 3, 8). Feed wire_hex to a fresh receiver whole and one byte at a time; expect is the ordered output. Errors of kind bad_version also carry the version, type and seq read from the body. Generated by scripts/gen-vectors.ts; do not edit by hand.",
  frameVectors,
);
write(
  "messages.json",
  "Protocol v1 message vectors (sections 5, 8). kind: request | response (status OK) | error (error response) | event | chunk_ack (CHUNK|RESPONSE answer to a non-final chunk). tlv: {status (responses only), fields: [{tag, hex}] in wire order}. fields: typed view of the TypeScript codec (bytes as lowercase hex; responses as {ok:true, fields} or {ok:false, status, error, text}). Generated by scripts/gen-vectors.ts.",
  builtMessages.map((b) => b.json),
);
write(
  "chunks.json",
  "Protocol v1 chunking vectors (sections 4, 8): payload_hex split for max_frame (max frame body bytes); frames_hex are the CHUNK request frames (version 1, flags 0x02, seq from 1) as full line bytes. Generated by scripts/gen-vectors.ts.",
  chunkVectors,
);
