import { encodeFrame, encodeRequest, FLAG_CHUNK, MSG, splitIntoChunks } from "../../src/protocol/index.js";
import { credentialPayload, credentialSet, prng } from "./sample-data.js";

export function chunkVector(name: string, payload: Buffer, maxFrame: number) {
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

/** The chunking vectors: credential sets and edge sizes split for a max frame size. */
export function chunkVectors() {
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
  return chunkVectors;
}
