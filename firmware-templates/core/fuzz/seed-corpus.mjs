// Seed corpus for the fuzz targets, from the shared protocol vectors:
//   <out>/rx     every frames.json stream and every chunks.json frame line
//   <out>/tlv    every messages.json payload (after the status byte for responses)
//   <out>/chunk  each chunks.json vector as the fuzz_chunk record format
// Usage: node seed-corpus.mjs <vectors dir> <out dir>
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const [vectorsDir, outDir] = process.argv.slice(2);
if (!vectorsDir || !outDir) {
  process.stderr.write("usage: node seed-corpus.mjs <vectors dir> <out dir>\n");
  process.exit(2);
}
const load = (name) => JSON.parse(readFileSync(join(vectorsDir, name), "utf8")).vectors;
const hex = (h) => Buffer.from(h, "hex");
const dirs = { rx: join(outDir, "rx"), tlv: join(outDir, "tlv"), chunk: join(outDir, "chunk") };
for (const d of Object.values(dirs)) mkdirSync(d, { recursive: true });
let n = 0;
const put = (dir, bytes) => writeFileSync(join(dir, `seed-${String(n++).padStart(4, "0")}`), bytes);

for (const v of load("frames.json")) put(dirs.rx, hex(v.wire_hex));
for (const v of load("messages.json")) {
  const p = hex(v.payload_hex);
  put(dirs.tlv, v.tlv.status === undefined ? p : p.subarray(1));
}
for (const v of load("chunks.json")) {
  const records = [Buffer.from([0x1f, 0xff])]; // reassembly buffer 1 + (0x1fff % 8192) = 8192
  for (const line of v.frames_hex) {
    put(dirs.rx, hex(line));
    // frame line -> body -> chunk payload (strip 0x1E/0x0A, header 5, CRC 4)
    const body = Buffer.from(hex(line).subarray(1, -1).toString("latin1"), "base64");
    const payload = body.subarray(5, body.length - 4);
    const len = Buffer.alloc(3);
    len[0] = v.type;
    len.writeUInt16BE(payload.length, 1);
    records.push(len, payload);
  }
  put(dirs.chunk, Buffer.concat(records));
}
process.stderr.write(`seed corpus: ${n} files in ${outDir}\n`);
