import { execFileSync } from "node:child_process";
import { createPrivateKey, createPublicKey, sign } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CertificationRequest } from "@peculiar/asn1-csr";
import { AsnConvert } from "@peculiar/asn1-schema";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isProvisionError } from "../errors.js";
import { rejection } from "../errors.test-helper.js";
import { KEY_POLICY_AWS, verifyCsr, verifyIssuedCertificate } from "./index.js";

// Keys and CSRs come from the real openssl CLI and the real mbedTLS 2.28, not from the code under test.
let dir: string;
const openssl = (...args: string[]) =>
  execFileSync("openssl", args, { cwd: dir, stdio: ["ignore", "pipe", "pipe"] });

interface Made {
  keyPem: string;
  csrPem: string;
  csrDer: Uint8Array;
  spkiDer: Uint8Array;
}

function make(name: string, genArgs: string[], subject = "/CN=thing-1/O=Acme"): Made {
  openssl("genpkey", ...genArgs, "-out", `${name}.key`);
  openssl("req", "-new", "-key", `${name}.key`, "-subj", subject, "-out", `${name}.csr`);
  openssl("req", "-in", `${name}.csr`, "-outform", "DER", "-out", `${name}.der`);
  openssl("pkey", "-in", `${name}.key`, "-pubout", "-outform", "DER", "-out", `${name}.spki`);
  return {
    keyPem: readFileSync(join(dir, `${name}.key`), "utf8"),
    csrPem: readFileSync(join(dir, `${name}.csr`), "utf8"),
    csrDer: new Uint8Array(readFileSync(join(dir, `${name}.der`))),
    spkiDer: new Uint8Array(readFileSync(join(dir, `${name}.spki`))),
  };
}

const ec = (curve: string) => ["-algorithm", "EC", "-pkeyopt", `ec_paramgen_curve:${curve}`];
const rsa = (bits: number) => ["-algorithm", "RSA", "-pkeyopt", `rsa_keygen_bits:${bits}`];

let p256: Made;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "csr-test-"));
  p256 = make("p256", ec("P-256"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("verifyCsr accepts", () => {
  it("P-256 with the device's key and subject", async () => {
    const r = await verifyCsr(p256.csrPem, {
      expectedPublicKeySpkiDer: p256.spkiDer,
      expectedSubject: { CN: "thing-1", O: "Acme" },
    });
    expect(r.keyType).toBe("ec-p256");
    expect(r.subject).toEqual({ CN: "thing-1", O: "Acme" });
    expect(Buffer.from(r.publicKeySpki).equals(Buffer.from(p256.spkiDer))).toBe(true);
    expect(Buffer.from(r.csrDer).equals(Buffer.from(p256.csrDer))).toBe(true);
    expect(r.csrPem).toMatch(/^-----BEGIN CERTIFICATE REQUEST-----/);
  });

  it("P-384 given as DER", async () => {
    const m = make("p384", ec("P-384"));
    const r = await verifyCsr(m.csrDer, { expectedPublicKeySpkiDer: m.spkiDer });
    expect(r.keyType).toBe("ec-p384");
  });

  it("RSA-2048", async () => {
    const m = make("rsa2048", rsa(2048));
    const r = await verifyCsr(m.csrPem, { expectedPublicKeySpkiDer: m.spkiDer });
    expect(r.keyType).toBe("rsa-2048");
  });

  it("P-521 only under the AWS policy", async () => {
    const m = make("p521", ec("P-521"));
    const refused = await rejection(verifyCsr(m.csrPem));
    expect(refused.message).toMatch(/EC P-521, not an accepted curve/);
    const r = await verifyCsr(m.csrPem, { policy: KEY_POLICY_AWS });
    expect(r.keyType).toBe("ec-p521");
  });

  it("a CSR written by mbedTLS 2.28 (ecdsa-with-SHA256 with NULL parameters)", async () => {
    const exe = join(dir, "mbedtls-make-csr");
    execFileSync("cc", [
      "-Wall",
      "-Wextra",
      "-Werror",
      "-o",
      exe,
      join(import.meta.dirname, "testdata", "mbedtls-make-csr.c"),
      "-lmbedx509",
      "-lmbedcrypto",
    ]);
    execFileSync(exe, ["CN=thing-2,O=Acme", join(dir, "m.der"), join(dir, "m.spki")]);
    const der = new Uint8Array(readFileSync(join(dir, "m.der")));
    // The premise of this test: AlgorithmIdentifier { ecdsa-with-SHA256, NULL } (SEQUENCE of 12 bytes).
    expect(Buffer.from(der).toString("hex")).toContain("300c06082a8648ce3d0403020500");
    const r = await verifyCsr(der, {
      expectedPublicKeySpkiDer: new Uint8Array(readFileSync(join(dir, "m.spki"))),
      expectedSubject: { CN: "thing-2", O: "Acme" },
    });
    expect(r.keyType).toBe("ec-p256");
  });

  it("an openssl CSR re-encoded with NULL parameters and re-signed", async () => {
    const parsed = AsnConvert.parse(p256.csrDer, CertificationRequest);
    expect(parsed.signatureAlgorithm.parameters).toBeUndefined();
    parsed.signatureAlgorithm.parameters = new Uint8Array([0x05, 0x00]).buffer;
    expect(Buffer.from(p256.csrDer).toString("hex")).not.toContain("300c06082a8648ce3d0403020500");
    const tbs = new Uint8Array(AsnConvert.serialize(parsed.certificationRequestInfo));
    parsed.signature = new Uint8Array(sign("sha256", tbs, createPrivateKey(p256.keyPem))).buffer;
    const der = new Uint8Array(AsnConvert.serialize(parsed));
    expect(Buffer.from(der).toString("hex")).toContain("300c06082a8648ce3d0403020500");
    // OpenSSL (independent of the code under test) agrees the re-encoded CSR is valid.
    writeFileSync(join(dir, "null.der"), der);
    expect(openssl("req", "-inform", "DER", "-in", "null.der", "-verify", "-noout").toString()).toBe("");
    const r = await verifyCsr(der, { expectedPublicKeySpkiDer: p256.spkiDer });
    expect(r.keyType).toBe("ec-p256");
  });
});

describe("verifyCsr refuses, naming the problem", () => {
  it("a CSR whose signature does not verify", async () => {
    const bad = new Uint8Array(p256.csrDer);
    bad[bad.length - 5] = (bad[bad.length - 5] ?? 0) ^ 0x01;
    const r = await rejection(verifyCsr(bad, { expectedPublicKeySpkiDer: p256.spkiDer }));
    expect(r.code).toBe("CSR_REJECTED");
    expect(r.message).toBe("CSR signature does not verify: the device did not prove possession of the key");
  });

  it("a CSR signed over a different subject than it carries", async () => {
    const parsed = AsnConvert.parse(p256.csrDer, CertificationRequest);
    const other = make("other-subject", ec("P-256"), "/CN=evil");
    const otherParsed = AsnConvert.parse(other.csrDer, CertificationRequest);
    parsed.certificationRequestInfo.subject = otherParsed.certificationRequestInfo.subject;
    const r = await rejection(verifyCsr(new Uint8Array(AsnConvert.serialize(parsed))));
    expect(r.message).toMatch(/signature does not verify/);
  });

  it("a CSR for a different key than the device reported", async () => {
    const other = make("other", ec("P-256"));
    const r = await rejection(verifyCsr(p256.csrPem, { expectedPublicKeySpkiDer: other.spkiDer }));
    expect(r.code).toBe("CSR_REJECTED");
    expect(r.message).toMatch(/CSR public key differs from the key the device reported/);
  });

  it("RSA-1024", async () => {
    const m = make("rsa1024", rsa(1024));
    const r = await rejection(verifyCsr(m.csrPem, { expectedPublicKeySpkiDer: m.spkiDer }));
    expect(r.code).toBe("CSR_REJECTED");
    expect(r.message).toMatch(/RSA-1024, shorter than 2048 bits/);
  });

  it("secp256k1", async () => {
    const m = make("k1", ec("secp256k1"));
    const r = await rejection(verifyCsr(m.csrPem, { expectedPublicKeySpkiDer: m.spkiDer }));
    expect(r.code).toBe("CSR_REJECTED");
    expect(r.message).toMatch(/EC secp256k1, which the key policy does not accept/);
  });

  it("Ed25519", async () => {
    const m = make("ed", ["-algorithm", "ED25519"]);
    const r = await rejection(verifyCsr(m.csrPem));
    expect(r.message).toMatch(/ED25519/);
  });

  it("a subject with a wrong or missing field", async () => {
    const wrong = await rejection(verifyCsr(p256.csrPem, { expectedSubject: { CN: "thing-9" } }));
    expect(wrong.message).toBe('CSR subject CN is "thing-1", expected "thing-9"');
    const missing = await rejection(verifyCsr(p256.csrPem, { expectedSubject: { OU: "line-3" } }));
    expect(missing.message).toBe("CSR subject lacks OU (expected OU=line-3)");
  });

  it("bytes that are not a CSR", async () => {
    const r = await rejection(verifyCsr(new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x00])));
    expect(r.message).toMatch(/does not parse as PKCS#10/);
  });
});

describe("verifyIssuedCertificate", () => {
  it("accepts a certificate for the CSR's key and refuses one for another key", () => {
    const ca = make("ca", ec("P-256"), "/CN=test-ca");
    openssl("req", "-x509", "-key", "ca.key", "-subj", "/CN=test-ca", "-days", "2", "-out", "ca.pem");
    const issue = (csr: string, out: string) =>
      openssl("x509", "-req", "-in", csr, "-CA", "ca.pem", "-CAkey", "ca.key", "-days", "1", "-out", out);
    issue("p256.csr", "p256.pem");
    const certPem = readFileSync(join(dir, "p256.pem"), "utf8");
    const ok = verifyIssuedCertificate(certPem, p256.spkiDer);
    const derHex = openssl("x509", "-in", "p256.pem", "-outform", "DER").toString("hex");
    expect(ok.derSha256Hex).toBe(
      execFileSync("openssl", ["dgst", "-sha256", "-r"], { input: Buffer.from(derHex, "hex") })
        .toString()
        .slice(0, 64),
    );
    expect(() => verifyIssuedCertificate(certPem, ca.spkiDer)).toThrowError(/differs from the CSR's key/);
    try {
      verifyIssuedCertificate(certPem, ca.spkiDer);
    } catch (e) {
      expect(isProvisionError(e, "CERT_REJECTED")).toBe(true);
    }
    // The key is compared, not its encoding: an SPKI from a PEM public key matches too.
    const spkiFromPem = createPublicKey(p256.keyPem).export({ type: "spki", format: "der" });
    expect(() => verifyIssuedCertificate(certPem, new Uint8Array(spkiFromPem))).not.toThrow();
  });
});
