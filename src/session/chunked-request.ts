/**
 * A request too large for one frame (docs/protocol.md section 5.4): sent as
 * chunks, each acknowledged with the running byte count; the whole sequence
 * starts over when the device lost a chunk or the digest did not match.
 */
import {
  type CommandName,
  chunkDataLength,
  decodeChunkAck,
  type Frame,
  STATUS,
  splitIntoChunks,
} from "../protocol/index.js";
import { type DeviceContext, deviceRefused, protocolError } from "./session-errors.js";
import { CHUNK_RESTARTS_MAX } from "./session-types.js";

/** Sends `payload` as chunks through `exchangeChunk`; resolves with the answer to the last one. */
export async function sendChunked(
  name: CommandName,
  payload: Buffer,
  frameLimit: number,
  exchangeChunk: (chunk: Buffer) => Promise<Frame>,
  where: () => DeviceContext,
): Promise<Frame> {
  for (let restart = 0; ; restart++) {
    const chunks = splitIntoChunks(payload, frameLimit);
    let sent = 0;
    for (const [i, chunk] of chunks.entries()) {
      const answer = await exchangeChunk(chunk);
      const status = answer.payload[0];
      if ((status === STATUS.ERR_CHUNK || status === STATUS.ERR_DIGEST) && restart < CHUNK_RESTARTS_MAX)
        break;
      if (i === chunks.length - 1) return answer;
      const ack = decodeChunkAck(answer.payload);
      if (!ack.ok) throw protocolError(where(), name, `malformed chunk answer: ${ack.detail}`);
      if (!ack.value.ok) throw deviceRefused(where(), name, ack.value.error, ack.value.text);
      sent += chunkDataLength(chunk, i === 0);
      if (ack.value.fields.received !== sent) {
        throw protocolError(
          where(),
          name,
          `device acknowledged ${ack.value.fields.received} bytes, ${sent} were sent`,
        );
      }
    }
  }
}
