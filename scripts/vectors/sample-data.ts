/** Deterministic sample data: a PRNG for filler, PEM-shaped filler, real sample keys and a CSR, the credential set. */
import { createECDH, createHash } from "node:crypto";
import { encodeRequest, type Requests } from "../../src/protocol/index.js";

// ---- deterministic sample data -------------------------------------------

/** xorshift32: reproducible filler so regenerating gives identical files. */
export function prng(seed: number): (n: number) => Buffer {
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
export const SPKI_P256 = Buffer.from(
  "3059301306072a8648ce3d020106082a8648ce3d030107034200043758ba69de71db7f1389d2c04cc24f5bc762d0ee99c30435e2282ea7cbcbb03ceae1d049f9995bde6b16821c916225dc8a6da9735a1e665e0d7c0ce01945dda3",
  "hex",
);
export const CSR_P256_UTF8 = Buffer.from(
  "308201043081ac020100304a310b3009060355040613024a50311e301c060355040a0c15e6a0aae5bc8fe4bc9ae7a4bee38386e382b9e38388311b301906035504030c1265737033322d6131623263336434653566363059301306072a8648ce3d020106082a8648ce3d030107034200043758ba69de71db7f1389d2c04cc24f5bc762d0ee99c30435e2282ea7cbcbb03ceae1d049f9995bde6b16821c916225dc8a6da9735a1e665e0d7c0ce01945dda3a000300a06082a8648ce3d0403020347003044022003b52a7703110f00ec6b10fe5e0f28f5e9e15e38e059b785fce3ffa59d948d1c022062136b109f7bb4e85ef59ac8ad36dbb275d15a72b5131a111fe20ef4f1745470",
  "hex",
);
if (!CSR_P256_UTF8.includes(SPKI_P256)) throw new Error("sample CSR does not carry the sample key");
// A second key (P-384 public point from a fixed private scalar) for the rotation status.
export const ecdh384 = createECDH("secp384r1");
ecdh384.setPrivateKey(Buffer.alloc(48, 7));
export const SPKI_P384 = Buffer.concat([
  Buffer.from("3076301006072a8648ce3d020106052b81040022036200", "hex"),
  ecdh384.getPublicKey(),
]);

export const sha = (b: Buffer | string) => createHash("sha256").update(b).digest();

export const SAMPLE_CERT_PEM = fakePem("CERTIFICATE", 1300, 11);
export const SAMPLE_ROOT_CA1_PEM = fakePem("CERTIFICATE", 1188, 12);
export const SAMPLE_ROOT_CA3_PEM = fakePem("CERTIFICATE", 656, 13);
export const SAMPLE_ENDPOINT = "a1b2c3d4e5f6g7-ats.iot.eu-west-1.amazonaws.com";

export const credentialSet: Requests["WRITE_CREDENTIALS"] = {
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
export const credentialPayload = encodeRequest("WRITE_CREDENTIALS", credentialSet);
