/**
 * Which device keys the tool accepts. AWS IoT takes RSA >= 2048 and EC P-256,
 * P-384 and P-521 in a CSR (AWS IoT Developer Guide); the default here is narrower
 * (P-521 is rarely supported by device TLS stacks) and the AWS set is one
 * option away. Key facts come from node:crypto, which parses every SPKI we may
 * see (secp256k1, Ed25519 included) so a refused key is named precisely.
 */
import { createPublicKey, type KeyObject } from "node:crypto";

export type EcCurve = "P-256" | "P-384" | "P-521";
export type KeyType = "ec-p256" | "ec-p384" | "ec-p521" | `rsa-${number}`;

export interface KeyPolicy {
  /** Smallest RSA modulus accepted, in bits. */
  rsaMinBits: number;
  /** EC curves accepted. */
  ecCurves: readonly EcCurve[];
}

/** RSA >= 2048, P-256, P-384: what the design asks for. */
export const KEY_POLICY_DEFAULT: KeyPolicy = { rsaMinBits: 2048, ecCurves: ["P-256", "P-384"] };
/** Everything AWS IoT's CreateCertificateFromCsr accepts. */
export const KEY_POLICY_AWS: KeyPolicy = { rsaMinBits: 2048, ecCurves: ["P-256", "P-384", "P-521"] };

// node:crypto names curves by their OpenSSL names.
const CURVE_BY_OPENSSL_NAME: Record<string, EcCurve> = {
  prime256v1: "P-256",
  secp384r1: "P-384",
  secp521r1: "P-521",
};

export interface KeyDescription {
  /** Canonical SubjectPublicKeyInfo DER (re-exported by node:crypto). */
  spkiDer: Uint8Array;
  /** Human name, e.g. "EC secp256k1", "RSA-1024", "ED25519". */
  name: string;
  /** Set only for key kinds the policy language can express. */
  keyType?: KeyType;
}

export function describeSpki(spkiDer: Uint8Array): KeyDescription {
  const key: KeyObject = createPublicKey({ key: Buffer.from(spkiDer), format: "der", type: "spki" });
  const canonical = new Uint8Array(key.export({ type: "spki", format: "der" }));
  const kind = key.asymmetricKeyType ?? "unknown";
  const details = key.asymmetricKeyDetails ?? {};
  if (kind === "rsa") {
    const bits = details.modulusLength ?? 0;
    return { spkiDer: canonical, name: `RSA-${bits}`, keyType: `rsa-${bits}` };
  }
  if (kind === "ec") {
    const opensslName = details.namedCurve ?? "unknown curve";
    const curve = CURVE_BY_OPENSSL_NAME[opensslName];
    if (curve === undefined) return { spkiDer: canonical, name: `EC ${opensslName}` };
    return {
      spkiDer: canonical,
      name: `EC ${curve}`,
      keyType: `ec-${curve.toLowerCase().replace("-", "")}` as KeyType,
    };
  }
  return { spkiDer: canonical, name: kind.toUpperCase() };
}

/** Returns why the key is refused, or undefined when the policy accepts it. */
export function keyPolicyViolation(key: KeyDescription, policy: KeyPolicy): string | undefined {
  const allowed = `allowed: RSA >= ${policy.rsaMinBits} bits, EC ${policy.ecCurves.join(", ")}`;
  const t = key.keyType;
  if (t === undefined) return `the key is ${key.name}, which the key policy does not accept (${allowed})`;
  if (t.startsWith("rsa-")) {
    const bits = Number(t.slice(4));
    if (bits < policy.rsaMinBits)
      return `the key is ${key.name}, shorter than ${policy.rsaMinBits} bits (${allowed})`;
    return undefined;
  }
  const curve = key.name.slice(3) as EcCurve;
  if (!policy.ecCurves.includes(curve)) return `the key is ${key.name}, not an accepted curve (${allowed})`;
  return undefined;
}
