import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ApiError } from "./api-error.js";
import { CA_CERT_FILE, LocalCa, parseAndCheckCsr } from "./ca.js";

let dir: string;
let ca: LocalCa;

/** CSR and key made by the openssl CLI, independent of the code under test. */
function opensslCsr(
  name: string,
  newkey: string[],
  subject = `/CN=${name}`,
): { csr: string; keyFile: string } {
  const keyFile = join(dir, `${name}.key`);
  const csrFile = join(dir, `${name}.csr`);
  execFileSync(
    "openssl",
    ["req", "-new", ...newkey, "-nodes", "-keyout", keyFile, "-subj", subject, "-out", csrFile],
    {
      stdio: ["ignore", "ignore", "pipe"],
    },
  );
  return { csr: readFileSync(csrFile, "utf8"), keyFile };
}

function opensslText(args: string[], input?: string): string {
  return execFileSync("openssl", args, { input, encoding: "utf8", stdio: ["pipe", "pipe", "pipe"] });
}

function pubkeyOfCsr(csr: string): string {
  return opensslText(["req", "-noout", "-pubkey"], csr);
}

function pubkeyOfCert(pem: string): string {
  return opensslText(["x509", "-noout", "-pubkey"], pem);
}

async function refusal(csr: unknown): Promise<ApiError> {
  try {
    await parseAndCheckCsr(csr);
  } catch (e) {
    expect(e).toBeInstanceOf(ApiError);
    return e as ApiError;
  }
  throw new Error("CSR was accepted but should have been refused");
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "local-iot-ca-"));
  ca = await LocalCa.openOrCreate(dir);
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("local CA issuing from CSRs", () => {
  const cases: [string, string[]][] = [
    ["p256", ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"]],
    ["p384", ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-384"]],
    ["p521", ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-521"]],
    ["rsa2048", ["-newkey", "rsa:2048"]],
  ];
  for (const [name, newkey] of cases) {
    it(`issues a certificate for an openssl ${name} CSR that openssl verifies against ca.pem`, async () => {
      const { csr } = opensslCsr(name, newkey, `/CN=${name}-device/O=Test Org`);
      const { csr: parsed } = await parseAndCheckCsr(csr);
      const issued = await ca.issueForCsr(parsed);
      const certFile = join(dir, `${name}.pem`);
      writeFileSync(certFile, issued.certificatePem);
      expect(opensslText(["verify", "-CAfile", join(dir, CA_CERT_FILE), certFile]).trim()).toBe(
        `${certFile}: OK`,
      );
      expect(pubkeyOfCert(issued.certificatePem)).toBe(pubkeyOfCsr(csr));
      const subject = opensslText(
        ["x509", "-noout", "-subject", "-nameopt", "RFC2253"],
        issued.certificatePem,
      );
      expect(subject.trim()).toBe(`subject=O=Test Org,CN=${name}-device`);
      const enddate = opensslText(["x509", "-noout", "-enddate"], issued.certificatePem);
      expect(enddate.trim()).toBe("notAfter=Dec 31 23:59:59 2049 GMT");
      const der = execFileSync("openssl", ["x509", "-outform", "DER"], { input: issued.certificatePem });
      expect(issued.certificateId).toBe(createHash("sha256").update(der).digest("hex"));
    });
  }

  it("accepts a CSR made by Debian's mbedTLS 2.28 (ecdsa-with-SHA256 with NULL parameters)", async () => {
    const exe = join(dir, "mbedtls-csr");
    execFileSync("cc", [
      "-o",
      exe,
      join(import.meta.dirname, "testdata", "mbedtls-csr.c"),
      "-lmbedx509",
      "-lmbedcrypto",
    ]);
    const csr = execFileSync(exe, ["ec", "CN=mbedtls-device"], { encoding: "utf8" });
    // The encoding this test is about: NULL right after the signature algorithm OID.
    expect(opensslText(["asn1parse"], csr)).toMatch(/OBJECT\s+:ecdsa-with-SHA256\s*\n.*prim: NULL/);
    const { csr: parsed, description } = await parseAndCheckCsr(csr);
    expect(description).toBe("EC P-256");
    const issued = await ca.issueForCsr(parsed);
    expect(pubkeyOfCert(issued.certificatePem)).toBe(pubkeyOfCsr(csr));

    const rsaCsr = execFileSync(exe, ["rsa", "CN=mbedtls-rsa-device"], { encoding: "utf8" });
    const rsa = await parseAndCheckCsr(rsaCsr);
    expect(rsa.description).toBe("RSA 2048");
    expect(pubkeyOfCert((await ca.issueForCsr(rsa.csr)).certificatePem)).toBe(pubkeyOfCsr(rsaCsr));
  });

  it("answers mutated or random input with InvalidRequestException, and never signs another key", async () => {
    const { csr } = opensslCsr("fuzz-base", ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"]);
    const der = execFileSync("openssl", ["req", "-outform", "DER"], { input: csr });
    const originalKey = Buffer.from((await parseAndCheckCsr(csr)).csr.publicKey.rawData);
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: der.length - 1 }),
        fc.integer({ min: 1, max: 255 }),
        async (at, xor) => {
          const mutated = Buffer.from(der);
          mutated[at] = (mutated[at] ?? 0) ^ xor;
          const pem = `-----BEGIN CERTIFICATE REQUEST-----\n${mutated.toString("base64")}\n-----END CERTIFICATE REQUEST-----\n`;
          try {
            // A flip that leaves an equivalent encoding (e.g. a lax length inside the
            // signature's DER) may pass; what must never pass is another key.
            const { csr: parsed } = await parseAndCheckCsr(pem);
            return Buffer.from(parsed.publicKey.rawData).equals(originalKey);
          } catch (e) {
            return e instanceof ApiError && e.errorType === "InvalidRequestException";
          }
        },
      ),
      { numRuns: 300, seed: 1 },
    );
    await fc.assert(
      fc.asyncProperty(fc.string({ maxLength: 300 }), async (text) => {
        try {
          await parseAndCheckCsr(text);
          return false;
        } catch (e) {
          return e instanceof ApiError && e.errorType === "InvalidRequestException";
        }
      }),
      { numRuns: 300, seed: 2 },
    );
  });

  it("refuses RSA-1024, secp256k1 and Ed25519 keys", async () => {
    expect((await refusal(opensslCsr("r1024", ["-newkey", "rsa:1024"]).csr)).message).toMatch(
      /1024 bits is too short/,
    );
    const k1 = await refusal(
      opensslCsr("k1", ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:secp256k1"]).csr,
    );
    expect(k1.errorType).toBe("InvalidRequestException");
    expect(k1.message).toMatch(/secp256k1 is not supported/);
    expect((await refusal(opensslCsr("ed", ["-newkey", "ed25519"]).csr)).message).toMatch(
      /ed25519 is not supported/,
    );
  });

  it("refuses a CSR whose signature does not match its key", async () => {
    const { csr } = opensslCsr("tamper", ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"]);
    const der = execFileSync("openssl", ["req", "-outform", "DER"], { input: csr });
    der[der.length - 5] = (der[der.length - 5] ?? 0) ^ 0x01; // inside the signature value
    const pem = `-----BEGIN CERTIFICATE REQUEST-----\n${der.toString("base64")}\n-----END CERTIFICATE REQUEST-----\n`;
    const e = await refusal(pem);
    expect(e.errorType).toBe("InvalidRequestException");
    expect(e.message).toMatch(/signature/);
  });

  it("refuses garbage, empty and oversized input with InvalidRequestException", async () => {
    for (const bad of [
      "",
      "not a csr",
      "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----",
      42,
      null,
      "x".repeat(4097),
    ]) {
      expect((await refusal(bad)).errorType).toBe("InvalidRequestException");
    }
  });

  it("keeps the same CA across reopen, and a server certificate valid for 127.0.0.1 and localhost", async () => {
    const again = await LocalCa.openOrCreate(dir);
    expect(again.certPem).toBe(ca.certPem);
    const server = await again.serverCertificate(dir);
    const certFile = join(dir, "server-check.pem");
    writeFileSync(certFile, server.certPem);
    const caFile = join(dir, CA_CERT_FILE);
    expect(opensslText(["verify", "-CAfile", caFile, "-verify_ip", "127.0.0.1", certFile]).trim()).toBe(
      `${certFile}: OK`,
    );
    expect(opensslText(["verify", "-CAfile", caFile, "-verify_hostname", "localhost", certFile]).trim()).toBe(
      `${certFile}: OK`,
    );
    // Reused on the next start rather than reissued.
    expect((await again.serverCertificate(dir)).certPem).toBe(server.certPem);
  });
});
