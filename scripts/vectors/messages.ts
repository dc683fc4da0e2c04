import { isDeepStrictEqual } from "node:util";
import {
  decodeChunkAck,
  decodeEvent,
  decodeRequest,
  decodeResponse,
  decodeTlv,
  encodeChunkAck,
  encodeErrorResponse,
  encodeEvent,
  encodeOkResponse,
  encodeRequest,
  FLAG_CHUNK,
  FLAG_RESPONSE,
  type Frame,
  fieldsToJson,
  MSG,
  statusName,
} from "../../src/protocol/index.js";
import { type MessageVector, messages } from "./message-table.js";

export interface Built {
  json: Record<string, unknown>;
  frame: Frame;
}

export function buildMessage(m: MessageVector): Built {
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

export function selfCheckMessage(m: MessageVector, payload: Buffer): void {
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

/** Every message vector, built and checked. */
export function messageVectors(): Built[] {
  return messages.map(buildMessage);
}
