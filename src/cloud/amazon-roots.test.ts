import { X509Certificate } from "node:crypto";
import { describe, expect, it } from "vitest";
import { AMAZON_ROOT_FINGERPRINTS_SHA256, amazonRootCaPem } from "./amazon-roots.js";

describe("amazonRootCaPem", () => {
  it("returns exactly Amazon Root CA 1 (RSA) and CA 3 (EC), pinned by fingerprint", () => {
    const pems =
      amazonRootCaPem().match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
    expect(pems).toHaveLength(2);
    const certs = pems.map((p) => new X509Certificate(p));
    expect(certs.map((c) => c.subject).sort()).toEqual([
      "C=US\nO=Amazon\nCN=Amazon Root CA 1",
      "C=US\nO=Amazon\nCN=Amazon Root CA 3",
    ]);
    expect(certs.map((c) => c.fingerprint256).sort()).toEqual(
      Object.values(AMAZON_ROOT_FINGERPRINTS_SHA256).sort(),
    );
    expect(certs.map((c) => c.publicKey.asymmetricKeyType).sort()).toEqual(["ec", "rsa"]);
  });
});
