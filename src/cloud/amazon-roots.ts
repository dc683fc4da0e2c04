/**
 * The root CAs a device needs to trust AWS IoT's ATS endpoints: Amazon Root
 * CA 1 (RSA 2048) and Amazon Root CA 3 (ECC P-256); which chain the server
 * presents depends on the cipher suite, so devices get both.
 *
 * They come from Node's bundled Mozilla root store rather than a download or
 * a copy in this repo, and are pinned by SHA-256 fingerprint so a changed
 * store can never slip another certificate onto a device.
 */
import { X509Certificate } from "node:crypto";
import { rootCertificates } from "node:tls";
import { ProvisionError } from "../errors.js";

export const AMAZON_ROOT_FINGERPRINTS_SHA256 = {
  "Amazon Root CA 1":
    "8E:CD:E6:88:4F:3D:87:B1:12:5B:A3:1A:C3:FC:B1:3D:70:16:DE:7F:57:CC:90:4F:E1:CB:97:C6:AE:98:19:6E",
  "Amazon Root CA 3":
    "18:CE:6C:FE:7B:F1:4E:60:B2:E3:47:B8:DF:E8:68:CB:31:D0:2E:BB:3A:DA:27:15:69:F5:03:43:B4:6D:B3:A4",
} as const;

/** PEMs of Amazon Root CA 1 and 3, concatenated, each ending in a newline. */
export function amazonRootCaPem(): string {
  const wanted = new Set<string>(Object.values(AMAZON_ROOT_FINGERPRINTS_SHA256));
  const found = rootCertificates.filter((pem) => wanted.has(new X509Certificate(pem).fingerprint256));
  if (found.length !== wanted.size) {
    throw new ProvisionError("INTERNAL", "Amazon Root CA 1 and 3 are missing from Node's root store", {
      hint: "pass --ca FILE with the Amazon root CAs (https://www.amazontrust.com/repository/)",
    });
  }
  return found.map((pem) => `${pem.trim()}\n`).join("");
}
