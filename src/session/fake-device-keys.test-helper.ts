/**
 * The fake device's keys: real ones (WebCrypto), kept in memory, and real
 * CSRs signed with them (@peculiar/x509), so the host's CSR checks run on
 * what a chip would send.
 */
import "reflect-metadata";
import { webcrypto } from "node:crypto";
import * as x509 from "@peculiar/x509";
import { KEY_TYPE, type Requests } from "../protocol/index.js";

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

export interface Key {
  keyType: number;
  keyStore: number;
  pair: webcrypto.CryptoKeyPair;
  spki: Buffer;
}

export async function makeKey(keyType: number, keyStore: number): Promise<Key> {
  const alg =
    keyType === KEY_TYPE.EC_P256
      ? { name: "ECDSA", namedCurve: "P-256" }
      : keyType === KEY_TYPE.EC_P384
        ? { name: "ECDSA", namedCurve: "P-384" }
        : {
            name: "RSASSA-PKCS1-v1_5",
            modulusLength: keyType === KEY_TYPE.RSA_3072 ? 3072 : 2048,
            publicExponent: new Uint8Array([1, 0, 1]),
            hash: "SHA-256",
          };
  const pair = (await webcrypto.subtle.generateKey(alg, true, ["sign", "verify"])) as webcrypto.CryptoKeyPair;
  const spki = Buffer.from(await webcrypto.subtle.exportKey("spki", pair.publicKey));
  return { keyType, keyStore, pair, spki };
}

/** A PKCS#10 request for the subject fields given, signed with the key (proof of possession). */
export async function signCsr(key: Key, subject: Requests["GET_CSR"]): Promise<Buffer> {
  const name: Record<string, string[]>[] = [];
  for (const attr of ["C", "ST", "L", "O", "OU", "CN"] as const) {
    const v = subject[attr];
    if (v !== undefined) name.push({ [attr]: [v] });
  }
  const ec = key.keyType === KEY_TYPE.EC_P256 || key.keyType === KEY_TYPE.EC_P384;
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name,
    keys: key.pair,
    signingAlgorithm: ec ? { name: "ECDSA", hash: "SHA-256" } : { name: "RSASSA-PKCS1-v1_5" },
  });
  return Buffer.from(csr.rawData);
}
