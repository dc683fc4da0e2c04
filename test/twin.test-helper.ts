/**
 * Shared pieces of the twin integration tests: a session over a real twin's
 * pty, and an OpenSSL test CA that signs the twin's CSRs.
 */
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { DeviceSession, type DeviceSessionOptions } from "../src/session/index.js";
import { openSerialTransport } from "../src/transport/index.js";
import type { Twin } from "../src/twin/index.js";

const run = promisify(execFile);

/** Runs openssl with args; resolves stdout (throws with stderr on failure). */
export async function openssl(args: string[], input?: Buffer): Promise<{ stdout: string; stderr: string }> {
  if (input === undefined) {
    const r = await run("openssl", args, { encoding: "utf8", maxBuffer: 1 << 20 });
    return { stdout: r.stdout, stderr: r.stderr };
  }
  return new Promise((done, fail) => {
    const child = execFile("openssl", args, { encoding: "utf8" }, (err, stdout, stderr) =>
      err ? fail(new Error(`openssl ${args.join(" ")}: ${stderr}`)) : done({ stdout, stderr }),
    );
    child.stdin?.end(input);
  });
}

export async function opensslBuffer(args: string[]): Promise<Buffer> {
  const r = await run("openssl", args, { encoding: "buffer", maxBuffer: 1 << 20 });
  return r.stdout;
}

export function derToPem(der: Buffer, label: string): string {
  const b64 =
    der
      .toString("base64")
      .match(/.{1,64}/g)
      ?.join("\n") ?? "";
  return `-----BEGIN ${label}-----\n${b64}\n-----END ${label}-----\n`;
}

export async function tempDir(prefix: string): Promise<{ path: string; remove: () => Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), prefix));
  return { path, remove: () => rm(path, { recursive: true, force: true }) };
}

/** A throwaway CA (EC P-256) made with openssl; signs CSRs and server/client certificates. */
export class TestCa {
  private constructor(
    readonly dir: string,
    readonly certPem: string,
  ) {}

  static async create(dir: string): Promise<TestCa> {
    const key = join(dir, "ca.key");
    const cert = join(dir, "ca.pem");
    await openssl(["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", key]);
    await openssl([
      "req",
      "-x509",
      "-new",
      "-key",
      key,
      "-subj",
      "/CN=Twin Test Root",
      "-days",
      "2",
      "-out",
      cert,
    ]);
    return new TestCa(dir, await readFile(cert, "utf8"));
  }

  /** Signs a CSR (DER) and returns the certificate PEM. */
  async signCsr(
    csrDer: Buffer,
    name = `leaf-${randomBytes(4).toString("hex")}`,
    extFile?: string,
  ): Promise<string> {
    const csr = join(this.dir, `${name}.csr`);
    const out = join(this.dir, `${name}.pem`);
    await writeFile(csr, derToPem(csrDer, "CERTIFICATE REQUEST"));
    const args = [
      "x509",
      "-req",
      "-in",
      csr,
      "-CA",
      join(this.dir, "ca.pem"),
      "-CAkey",
      join(this.dir, "ca.key"),
    ];
    args.push("-set_serial", `0x${randomBytes(8).toString("hex")}`, "-days", "2", "-out", out);
    if (extFile) args.push("-extfile", extFile);
    await openssl(args);
    return readFile(out, "utf8");
  }

  /** A key + certificate pair made with openssl (for the broker and observers); returns file paths. */
  async issueKeyPair(name: string, subject: string, san?: string): Promise<{ key: string; cert: string }> {
    const key = join(this.dir, `${name}.key`);
    const csr = join(this.dir, `${name}.csr.pem`);
    await openssl(["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", key]);
    await openssl(["req", "-new", "-key", key, "-subj", subject, "-out", csr]);
    const der = await opensslBuffer(["req", "-in", csr, "-outform", "DER"]);
    let ext: string | undefined;
    if (san) {
      ext = join(this.dir, `${name}.ext`);
      await writeFile(ext, `subjectAltName=${san}\n`);
    }
    await writeFile(join(this.dir, `${name}.pem`), await this.signCsr(der, `${name}-signed`, ext));
    return { key, cert: join(this.dir, `${name}.pem`) };
  }
}

/** Opens the twin's pty with the real serialport package and starts a DeviceSession on it. */
export async function openTwinSession(
  twin: Twin,
  options: DeviceSessionOptions = {},
): Promise<DeviceSession> {
  const transport = await openSerialTransport(twin.port);
  return new DeviceSession(transport, options);
}
