/**
 * The manual path and the helper commands, through the real binary:
 * `provision csr` against a twin (checked by openssl), `provision install`
 * of a certificate signed by the user's own CA (and refusal of one that
 * does not match the key), `provision sim --json`, `provision ports`.
 */
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureTwinBuilt, startTwin, type Twin } from "../src/twin/index.js";

const BIN = resolve("bin/provision.js");
let dir: string;

function cli(args: string[], opts: { untilLine?: boolean } = {}) {
  return new Promise<{ status: number | null; stdout: string; stderr: string; kill: () => void }>((res) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true" },
      cwd: dir,
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => {
      stdout += d;
      if (opts.untilLine && stdout.includes("\n"))
        res({ status: null, stdout, stderr, kill: () => child.kill("SIGINT") });
    });
    child.stderr.on("data", (d) => {
      stderr += d;
    });
    child.on("close", (status) => res({ status, stdout, stderr, kill: () => {} }));
  });
}

const openssl = (args: string[], input?: string) =>
  execFileSync("openssl", args, { cwd: dir, input, stdio: ["pipe", "pipe", "pipe"] }).toString();

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "provision-cmds-"));
  await ensureTwinBuilt();
}, 120_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("provision csr / install against a twin", () => {
  let twin: Twin;
  beforeAll(async () => {
    twin = await startTwin({ stateDir: join(dir, "twin") });
  });
  afterAll(async () => twin?.stop());

  for (const keyType of ["ec-p256", "rsa-2048"] as const) {
    it(`csr --key-type ${keyType}: openssl verifies it; its key is the twin's key`, async () => {
      const t = keyType === "ec-p256" ? twin : await startTwin({ stateDir: join(dir, `twin-${keyType}`) });
      try {
        const r = await cli([
          "csr",
          "--port",
          t.port,
          "--key-type",
          keyType,
          "--subject",
          "O=株式会社テスト",
          "--subject",
          "CN=dev-1",
        ]);
        expect(r.status, r.stderr).toBe(0);
        writeFileSync(join(dir, `${keyType}.csr`), r.stdout);
        expect(openssl(["req", "-in", `${keyType}.csr`, "-verify", "-noout"])).toBe("");
        const text = openssl(["req", "-in", `${keyType}.csr`, "-noout", "-subject", "-nameopt", "utf8"]);
        expect(text).toContain("株式会社テスト");
        const csrKey = openssl(["req", "-in", `${keyType}.csr`, "-noout", "-pubkey"]);
        // The twin's key file is its "secure storage"; only the test looks inside.
        const keyFile = readFileSync(join(t.stateDir, "key-active.pem"), "utf8");
        const storeKey = openssl(["pkey", "-pubout"], keyFile);
        expect(csrKey.trim()).toBe(storeKey.trim());
      } finally {
        if (t !== twin) await t.stop();
      }
    });
  }

  it("install: a certificate from the user's own CA is committed; one for another key is refused, state unchanged", async () => {
    const csr = await cli(["csr", "--port", twin.port]);
    expect(csr.status, csr.stderr).toBe(0);
    writeFileSync(join(dir, "dev.csr"), csr.stdout);
    openssl([
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:P-256",
      "-nodes",
      "-keyout",
      "ca.key",
      "-subj",
      "/CN=own-ca",
      "-days",
      "3",
      "-out",
      "ca.pem",
    ]);
    openssl([
      "x509",
      "-req",
      "-in",
      "dev.csr",
      "-CA",
      "ca.pem",
      "-CAkey",
      "ca.key",
      "-CAcreateserial",
      "-days",
      "2",
      "-out",
      "dev.pem",
    ]);
    // A certificate for some other key, from the same CA.
    openssl([
      "req",
      "-new",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:P-256",
      "-nodes",
      "-keyout",
      "other.key",
      "-subj",
      "/CN=other",
      "-out",
      "other.csr",
    ]);
    openssl([
      "x509",
      "-req",
      "-in",
      "other.csr",
      "-CA",
      "ca.pem",
      "-CAkey",
      "ca.key",
      "-CAcreateserial",
      "-days",
      "2",
      "-out",
      "other.pem",
    ]);

    const common = [
      "--port",
      twin.port,
      "--endpoint",
      "127.0.0.1",
      "--mqtt-port",
      "1",
      "--ca",
      "ca.pem",
      "--thing-name",
      "dev-1",
      "--json",
    ];
    const bad = await cli(["install", ...common, "--cert", "other.pem"]);
    expect(bad.status).toBe(16);
    expect(bad.stderr).toMatch(/ERR_KEY_MISMATCH/);

    const good = await cli(["install", ...common, "--cert", "dev.pem"]);
    expect(good.status, good.stderr).toBe(0);
    const result = JSON.parse(good.stdout);
    expect(result.thingName).toBe("dev-1");
    expect(result.generation).toBe(1);
  });
});

describe("provision sim", () => {
  it("--count 2 --json prints [{port, deviceId, stateDir}] and keeps the twins until SIGINT", async () => {
    const r = await cli(["sim", "--count", "2", "--state-dir", join(dir, "sim"), "--json"], {
      untilLine: true,
    });
    const twins = JSON.parse(r.stdout.split("\n")[0] ?? "[]") as {
      port: string;
      deviceId: string;
      stateDir: string;
    }[];
    r.kill();
    expect(twins).toHaveLength(2);
    for (const t of twins) {
      expect(t.port).toMatch(/^\/dev\/pts\/\d+$/);
      expect(t.deviceId).toMatch(/^[0-9a-f]{12}$/);
    }
    expect(new Set(twins.map((t) => t.deviceId)).size).toBe(2);
  });
});

describe("provision ports", () => {
  it("--all --json lists this machine's ports without udevadm", async () => {
    const r = await cli(["ports", "--all", "--json"]);
    expect(r.status, r.stderr).toBe(0);
    const ports = JSON.parse(r.stdout) as { path: string; source: string }[];
    expect(Array.isArray(ports)).toBe(true);
    for (const p of ports) expect(p.path).toMatch(/^\/dev\//);
  });
});
