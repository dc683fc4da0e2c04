/**
 * Host-side checks of the device's CSR, done before any cloud call (design
 * step 3). AWS does not document a proof-of-possession check of the CSR
 * signature, so the tool does it; it also pins the CSR to the key the device
 * reported at GENERATE_KEY, so a confused or hostile device cannot get a
 * certificate for some other key.
 */
import "reflect-metadata";
import { createHash, webcrypto } from "node:crypto";
import * as x509 from "@peculiar/x509";
import { ProvisionError } from "../errors.js";
import {
  describeSpki,
  KEY_POLICY_DEFAULT,
  type KeyPolicy,
  type KeyType,
  keyPolicyViolation,
} from "./key-policy.js";

// The DOM Crypto type is not in this project's lib; node's webcrypto is the same object shape.
(x509.cryptoProvider as { set(provider: unknown): void }).set(webcrypto);

/** Subject fields by short name as in GET_CSR: C, ST, L, O, OU, CN. */
export type SubjectFields = Partial<Record<"C" | "ST" | "L" | "O" | "OU" | "CN", string>> &
  Record<string, string | undefined>;

export interface VerifyCsrOptions {
  /** The device's public key from GENERATE_KEY (SubjectPublicKeyInfo DER). */
  expectedPublicKeySpkiDer?: Uint8Array;
  /** Every field given must be present in the CSR subject with exactly this value. */
  expectedSubject?: SubjectFields;
  /** Default KEY_POLICY_DEFAULT (RSA >= 2048, P-256, P-384). */
  policy?: KeyPolicy;
  /** Device id or port, for messages. */
  where?: string;
}

export interface VerifiedCsr {
  /** Canonical SubjectPublicKeyInfo DER of the CSR's key. */
  publicKeySpki: Uint8Array;
  keyType: KeyType;
  /** First value of each subject attribute, by short name. */
  subject: Record<string, string>;
  /** RFC 4514-style text, e.g. "CN=thing-1, O=Acme". */
  subjectText: string;
  csrDer: Uint8Array;
  /** PEM as AWS's CreateCertificateFromCsr wants it. */
  csrPem: string;
}

// Hashes strong enough for a CSR signature; devices sign with SHA-256 (protocol.md).
const ACCEPTED_HASHES = new Set(["SHA-256", "SHA-384", "SHA-512"]);

function reject(message: string, where: string | undefined, hint?: string): ProvisionError {
  return new ProvisionError("CSR_REJECTED", message, {
    where,
    hint: hint ?? "nothing was sent to the cloud; check the device firmware's key and CSR code",
  });
}

function parseCsr(input: Uint8Array | string, where: string | undefined): x509.Pkcs10CertificateRequest {
  try {
    return new x509.Pkcs10CertificateRequest(typeof input === "string" ? input : Buffer.from(input));
  } catch (e) {
    throw reject(`CSR does not parse as PKCS#10: ${(e as Error).message}`, where);
  }
}

function subjectOf(name: x509.Name): Record<string, string> {
  const out: Record<string, string> = {};
  for (const rdn of name.toJSON()) {
    for (const [field, values] of Object.entries(rdn)) {
      const first = values[0];
      if (out[field] === undefined && first !== undefined) out[field] = first;
    }
  }
  return out;
}

function hashName(algorithm: object): string | undefined {
  const hash = (algorithm as { hash?: { name?: string } | string }).hash;
  return typeof hash === "string" ? hash : hash?.name;
}

export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.from(a).equals(Buffer.from(b));
}

/**
 * Checks, in this order: the CSR parses; its key is allowed by the policy;
 * its signature verifies with its own key (proof of possession); the key
 * equals the device's; the subject has every requested field. Accepts
 * mbedTLS 2.28's ecdsa-with-SHA256 AlgorithmIdentifier with NULL parameters.
 * Throws ProvisionError CSR_REJECTED naming the first problem.
 */
export async function verifyCsr(
  input: Uint8Array | string,
  options: VerifyCsrOptions = {},
): Promise<VerifiedCsr> {
  const where = options.where;
  const csr = parseCsr(input, where);

  let key: ReturnType<typeof describeSpki>;
  try {
    key = describeSpki(new Uint8Array(csr.publicKey.rawData));
  } catch (e) {
    throw reject(`CSR public key does not parse: ${(e as Error).message}`, where);
  }
  const violation = keyPolicyViolation(key, options.policy ?? KEY_POLICY_DEFAULT);
  if (violation !== undefined || key.keyType === undefined) {
    throw reject(`CSR key refused: ${violation ?? `unsupported key ${key.name}`}`, where);
  }

  const hash = hashName(csr.signatureAlgorithm);
  if (hash === undefined || !ACCEPTED_HASHES.has(hash)) {
    throw reject(
      `CSR is signed with ${hash ?? "an unknown algorithm"}; only SHA-256/384/512 signatures are accepted`,
      where,
    );
  }

  let signatureOk = false;
  try {
    signatureOk = await csr.verify();
  } catch {
    signatureOk = false;
  }
  if (!signatureOk) {
    throw reject("CSR signature does not verify: the device did not prove possession of the key", where);
  }

  if (options.expectedPublicKeySpkiDer !== undefined) {
    let expected: Uint8Array;
    try {
      expected = describeSpki(options.expectedPublicKeySpkiDer).spkiDer;
    } catch (e) {
      throw reject(`the device's reported public key does not parse: ${(e as Error).message}`, where);
    }
    if (!sameBytes(expected, key.spkiDer)) {
      throw reject(
        "CSR public key differs from the key the device reported at GENERATE_KEY " +
          `(CSR key SHA-256 ${spkiDigestHex(key.spkiDer).slice(0, 16)}…, device key ${spkiDigestHex(expected).slice(0, 16)}…)`,
        where,
      );
    }
  }

  const subject = subjectOf(csr.subjectName);
  for (const [field, want] of Object.entries(options.expectedSubject ?? {})) {
    if (want === undefined) continue;
    const got = subject[field];
    if (got === undefined) throw reject(`CSR subject lacks ${field} (expected ${field}=${want})`, where);
    if (got !== want) throw reject(`CSR subject ${field} is "${got}", expected "${want}"`, where);
  }

  const csrDer = new Uint8Array(csr.rawData);
  return {
    publicKeySpki: key.spkiDer,
    keyType: key.keyType,
    subject,
    subjectText: csr.subject,
    csrDer,
    csrPem: csr.toString("pem"),
  };
}

/** SHA-256 hex of a canonical SPKI: the form protocol.md's STATUS reports. */
export function spkiDigestHex(spkiDer: Uint8Array): string {
  return createHash("sha256").update(spkiDer).digest("hex");
}

export interface VerifiedCertificate {
  /** SHA-256 of the DER, hex: what AWS is observed to use as certificateId. */
  derSha256Hex: string;
  notAfter: Date;
  subjectText: string;
}

/**
 * Checks that the certificate the cloud issued carries the CSR's key; the
 * device would refuse it at COMMIT anyway, but then the certificate would
 * already be live in the account. Throws CERT_REJECTED.
 */
export function verifyIssuedCertificate(
  certPem: string,
  csrPublicKeySpki: Uint8Array,
  where?: string,
): VerifiedCertificate {
  let cert: x509.X509Certificate;
  try {
    cert = new x509.X509Certificate(certPem);
  } catch (e) {
    throw new ProvisionError("CERT_REJECTED", `issued certificate does not parse: ${(e as Error).message}`, {
      where,
    });
  }
  const certKey = describeSpki(new Uint8Array(cert.publicKey.rawData)).spkiDer;
  const csrKey = describeSpki(csrPublicKeySpki).spkiDer;
  if (!sameBytes(certKey, csrKey)) {
    throw new ProvisionError("CERT_REJECTED", "issued certificate's public key differs from the CSR's key", {
      where,
      hint: "the certificate is rolled back; report this to whoever runs the certificate authority",
    });
  }
  return {
    derSha256Hex: createHash("sha256").update(new Uint8Array(cert.rawData)).digest("hex"),
    notAfter: cert.notAfter,
    subjectText: cert.subject,
  };
}

/** SHA-256 hex of a certificate's canonical SPKI (to find certificates issued for a key). */
export function certificateSpkiSha256(certPem: string): string {
  const cert = new x509.X509Certificate(certPem);
  return spkiDigestHex(describeSpki(new Uint8Array(cert.publicKey.rawData)).spkiDer);
}

/** Canonical SPKI of the key in a CSR, without any other check (the CSR was verified before). */
export function csrPublicKeySpki(csr: Uint8Array | string): Uint8Array {
  const parsed = new x509.Pkcs10CertificateRequest(typeof csr === "string" ? csr : Buffer.from(csr));
  return describeSpki(new Uint8Array(parsed.publicKey.rawData)).spkiDer;
}
