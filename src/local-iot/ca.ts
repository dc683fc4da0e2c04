/**
 * The local certificate authority: issues device certificates for the CSR's
 * own public key and subject (as AWS IoT's CreateCertificateFromCsr does) and
 * the broker's TLS server certificate. Key and certificate live in the state
 * directory so devices provisioned yesterday still chain to today's CA.
 */
import "reflect-metadata";
import { createHash, createPublicKey, randomBytes, webcrypto } from "node:crypto";
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import * as x509 from "@peculiar/x509";
import { ApiError } from "./api-error.js";
import { writeFileAtomic } from "./atomic-file.js";

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;

/** AWS IoT-issued certificates all expire at this instant. */
export const DEVICE_CERT_NOT_AFTER = new Date("2049-12-31T23:59:59Z");
/** The model's length limit for certificateSigningRequest. */
export const CSR_MAX_CHARS = 4096;
export const RSA_MIN_BITS = 2048;
/** Node's names for the curves AWS IoT accepts, mapped to the names AWS documents. */
const ACCEPTED_CURVES: Record<string, string> = {
  prime256v1: "P-256",
  secp384r1: "P-384",
  secp521r1: "P-521",
};

const CA_SIGNING = { name: "ECDSA", hash: "SHA-256" } as const;
const CA_KEY_ALGORITHM = { name: "ECDSA", namedCurve: "P-256" } as const;

export const CA_CERT_FILE = "ca.pem";
export const CA_KEY_FILE = "ca-key.pem";
export const SERVER_CERT_FILE = "server.pem";
export const SERVER_KEY_FILE = "server-key.pem";

export interface IssuedCertificate {
  certificateId: string;
  certificatePem: string;
  der: Uint8Array;
  notBefore: Date;
  notAfter: Date;
}

export interface CsrKeyInfo {
  /** "EC P-256", "RSA 2048", ... for messages and docs. */
  description: string;
}

function toPem(label: string, der: ArrayBuffer | Uint8Array): string {
  const b64 = Buffer.from(der instanceof Uint8Array ? der : new Uint8Array(der)).toString("base64");
  return `-----BEGIN ${label}-----\n${b64.replace(/(.{64})/g, "$1\n").replace(/\n$/, "")}\n-----END ${label}-----\n`;
}

function randomSerialHex(): string {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0] ?? 0) & 0x7f; // positive INTEGER without a leading zero byte
  if (bytes[0] === 0) bytes[0] = 1;
  return bytes.toString("hex");
}

/** SHA-256 hex of the certificate DER: the id AWS IoT gives a certificate. */
export function certificateIdOf(der: Uint8Array | ArrayBuffer): string {
  return createHash("sha256")
    .update(der instanceof Uint8Array ? der : new Uint8Array(der))
    .digest("hex");
}

/**
 * Parses and checks a CSR the way AWS IoT is documented to accept it; throws
 * InvalidRequestException otherwise. The signature is checked because AWS does
 * not document a proof-of-possession check and a local CA should not sign a
 * key nobody proved to hold.
 */
export async function parseAndCheckCsr(
  csrPem: unknown,
): Promise<{ csr: x509.Pkcs10CertificateRequest } & CsrKeyInfo> {
  if (typeof csrPem !== "string" || csrPem.length < 1 || csrPem.length > CSR_MAX_CHARS) {
    throw new ApiError(
      "InvalidRequestException",
      `certificateSigningRequest must be a string of 1 to ${CSR_MAX_CHARS} characters`,
    );
  }
  let csr: x509.Pkcs10CertificateRequest;
  try {
    csr = new x509.Pkcs10CertificateRequest(csrPem);
  } catch (e) {
    throw new ApiError(
      "InvalidRequestException",
      `The certificate signing request could not be parsed: ${(e as Error).message}`,
    );
  }
  let description: string;
  try {
    const key = createPublicKey({ key: Buffer.from(csr.publicKey.rawData), format: "der", type: "spki" });
    if (key.asymmetricKeyType === "rsa") {
      const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
      if (bits < RSA_MIN_BITS) {
        throw new ApiError(
          "InvalidRequestException",
          `RSA key of ${bits} bits is too short; at least ${RSA_MIN_BITS} bits are required`,
        );
      }
      description = `RSA ${bits}`;
    } else if (key.asymmetricKeyType === "ec") {
      const curve = key.asymmetricKeyDetails?.namedCurve ?? "unknown";
      const awsName = ACCEPTED_CURVES[curve];
      if (!awsName) {
        throw new ApiError(
          "InvalidRequestException",
          `EC curve ${curve} is not supported; use P-256, P-384 or P-521`,
        );
      }
      description = `EC ${awsName}`;
    } else {
      throw new ApiError(
        "InvalidRequestException",
        `Key type ${key.asymmetricKeyType} is not supported; use RSA (2048 bits or more) or EC P-256/P-384/P-521`,
      );
    }
  } catch (e) {
    if (e instanceof ApiError) throw e;
    throw new ApiError(
      "InvalidRequestException",
      `The CSR's public key could not be read: ${(e as Error).message}`,
    );
  }
  let signatureOk = false;
  try {
    signatureOk = await csr.verify();
  } catch (e) {
    throw new ApiError(
      "InvalidRequestException",
      `The CSR signature could not be checked: ${(e as Error).message}`,
    );
  }
  if (!signatureOk) {
    throw new ApiError("InvalidRequestException", "The CSR signature does not match its public key");
  }
  return { csr, description };
}

export class LocalCa {
  readonly certPem: string;
  private readonly cert: x509.X509Certificate;
  private readonly key: CryptoKey;

  private constructor(cert: x509.X509Certificate, key: CryptoKey) {
    this.cert = cert;
    this.key = key;
    this.certPem = cert.toString("pem").replace(/\r?\n?$/, "\n");
  }

  /** Loads the CA from the state directory, creating it on first use. */
  static async openOrCreate(stateDir: string): Promise<LocalCa> {
    const certPath = join(stateDir, CA_CERT_FILE);
    const keyPath = join(stateDir, CA_KEY_FILE);
    if (existsSync(certPath) && existsSync(keyPath)) {
      const cert = new x509.X509Certificate(await readFile(certPath, "utf8"));
      const keyDer = x509.PemConverter.decodeFirst(await readFile(keyPath, "utf8"));
      const key = await webcrypto.subtle.importKey("pkcs8", keyDer, CA_KEY_ALGORITHM, false, ["sign"]);
      return new LocalCa(cert, key as CryptoKey);
    }
    const keys = (await webcrypto.subtle.generateKey(CA_KEY_ALGORITHM, true, [
      "sign",
      "verify",
    ])) as CryptoKeyPair;
    const cert = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: randomSerialHex(),
      name: "CN=provision local AWS IoT CA, O=provision (local, not Amazon)",
      notBefore: new Date(Date.now() - 60_000),
      notAfter: new Date("2059-12-31T23:59:59Z"),
      signingAlgorithm: CA_SIGNING,
      keys,
      extensions: [
        new x509.BasicConstraintsExtension(true, 0, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      ],
    });
    const pkcs8 = await webcrypto.subtle.exportKey("pkcs8", keys.privateKey);
    // Key first: a ca.pem without its key would make the next start mint a new CA.
    await writeFileAtomic(keyPath, toPem("PRIVATE KEY", pkcs8), 0o600);
    const ca = new LocalCa(cert, keys.privateKey);
    await writeFileAtomic(certPath, ca.certPem);
    return ca;
  }

  private async authorityKeyId(): Promise<x509.AuthorityKeyIdentifierExtension> {
    return x509.AuthorityKeyIdentifierExtension.create(this.cert, false);
  }

  /** Signs a certificate for the CSR's own public key and subject. */
  async issueForCsr(csr: x509.Pkcs10CertificateRequest): Promise<IssuedCertificate> {
    const cert = await x509.X509CertificateGenerator.create({
      serialNumber: randomSerialHex(),
      subject: csr.subjectName,
      issuer: this.cert.subjectName,
      notBefore: new Date(Date.now() - 60_000),
      notAfter: DEVICE_CERT_NOT_AFTER,
      publicKey: csr.publicKey.rawData,
      signingKey: this.key,
      signingAlgorithm: CA_SIGNING,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(
          x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment,
          true,
        ),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth]),
        await this.authorityKeyId(),
      ],
    });
    const der = new Uint8Array(cert.rawData);
    return {
      certificateId: certificateIdOf(der),
      certificatePem: toPem("CERTIFICATE", der),
      der,
      notBefore: cert.notBefore,
      notAfter: cert.notAfter,
    };
  }

  /**
   * The broker's TLS certificate (SAN localhost and 127.0.0.1), kept in the
   * state directory; reissued only when missing or signed by another CA.
   */
  async serverCertificate(stateDir: string): Promise<{ certPem: string; keyPem: string }> {
    const certPath = join(stateDir, SERVER_CERT_FILE);
    const keyPath = join(stateDir, SERVER_KEY_FILE);
    if (existsSync(certPath) && existsSync(keyPath)) {
      const certPem = await readFile(certPath, "utf8");
      const existing = new x509.X509Certificate(certPem);
      if (
        existing.issuer === this.cert.subject &&
        (await existing.verify({ publicKey: this.cert.publicKey, signatureOnly: true }))
      ) {
        return { certPem, keyPem: await readFile(keyPath, "utf8") };
      }
    }
    const keys = (await webcrypto.subtle.generateKey(CA_KEY_ALGORITHM, true, [
      "sign",
      "verify",
    ])) as CryptoKeyPair;
    const cert = await x509.X509CertificateGenerator.create({
      serialNumber: randomSerialHex(),
      subject: "CN=localhost",
      issuer: this.cert.subjectName,
      notBefore: new Date(Date.now() - 60_000),
      notAfter: DEVICE_CERT_NOT_AFTER,
      publicKey: keys.publicKey,
      signingKey: this.key,
      signingAlgorithm: CA_SIGNING,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
        new x509.SubjectAlternativeNameExtension([
          { type: "dns", value: "localhost" },
          { type: "ip", value: "127.0.0.1" },
          // mbedTLS 2.28 matches a hostname only against DNS names, even when it is an IP address.
          { type: "dns", value: "127.0.0.1" },
        ]),
        await this.authorityKeyId(),
      ],
    });
    const keyPem = toPem("PRIVATE KEY", await webcrypto.subtle.exportKey("pkcs8", keys.privateKey));
    const certPem = toPem("CERTIFICATE", cert.rawData);
    await writeFileAtomic(keyPath, keyPem, 0o600);
    await writeFileAtomic(certPath, certPem);
    return { certPem, keyPem };
  }
}
