/**
 * Certificates made with the openssl CLI, independent of the code under
 * test: what an operator's own CA, or the AWS console, would hand over.
 */
import { execFileSync } from "node:child_process";
import { join } from "node:path";

/** A new P-256 key and a self-signed certificate for it: `<base>.key` and `<base>.pem` in `dir`. */
export function selfSignedCertificate(dir: string, base: string, subject: string, days = 1): string {
  const pem = join(dir, `${base}.pem`);
  execFileSync(
    "openssl",
    ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"].concat([
      "-keyout",
      join(dir, `${base}.key`),
      "-subj",
      subject,
      "-days",
      String(days),
      "-out",
      pem,
    ]),
    { stdio: "ignore" },
  );
  return pem;
}
