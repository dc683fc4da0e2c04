/**
 * The manual path and the helper commands, through the real binary:
 * `provision csr` against a twin (checked by openssl), `provision install`
 * of a certificate signed by the user's own CA (and refusal of one that
 * does not match the key), `provision sim --json`, `provision ports`.
 */

import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Ledger, registerWithRollback } from "../src/ledger/index.js";
import { startLocalIot } from "../src/local-iot/service.js";
import { targetForLocalIot } from "../src/provision/target.js";
import { leastPrivilegePolicy } from "../src/registry/index.js";
import { ensureTwinBuilt, startTwin, type Twin } from "../src/twin/index.js";
import { fixedMqttPort, localArgs, runCli } from "./cli.test-helper.js";
import { selfSignedCertificate } from "./openssl.test-helper.js";

let dir: string;

function cli(args: string[], opts: { untilLine?: boolean } | NodeJS.ProcessEnv = {}) {
  const untilLine = "untilLine" in opts && opts.untilLine === true;
  const env = "untilLine" in opts ? {} : (opts as NodeJS.ProcessEnv);
  return runCli(args, { cwd: dir, env, inheritEnv: true, untilLine });
}

const openssl = (args: string[], input?: string) =>
  execFileSync("openssl", args, { cwd: dir, input, stdio: ["pipe", "pipe", "pipe"] }).toString();

/** openssl's arguments for a new P-256 key, unencrypted. */
const P256_NEW_KEY = "-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes";

/** A new P-256 key and a CSR for it, with openssl (no spaces in the arguments). */
const p256Request = (keyFile: string, subject: string, csrFile: string) =>
  openssl(`req -new ${P256_NEW_KEY} -keyout ${keyFile} -subj ${subject} -out ${csrFile}`.split(" "));

/** A 2-day certificate for the CSR from the test's own CA (ca.pem, ca.key). */
const signWithOwnCa = (csrFile: string, certFile: string) =>
  openssl(
    `x509 -req -in ${csrFile} -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -out ${certFile}`.split(" "),
  );

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
    selfSignedCertificate(dir, "ca", "/CN=own-ca", 3);
    signWithOwnCa("dev.csr", "dev.pem");
    // A certificate for some other key, from the same CA.
    p256Request("other.key", "/CN=other", "other.csr");
    signWithOwnCa("other.csr", "other.pem");

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
  }, 90_000);
});

describe("provision with --local against a twin", () => {
  it("never prints the Wi-Fi password, even with --verbose --trace, nor writes it to the ledger", async () => {
    const twin = await startTwin({ stateDir: join(dir, "twin-wifi"), bootBanner: true });
    const secret = "unique-wifi-secret-7f3a";
    try {
      const r = await cli(
        [
          "--port",
          twin.port,
          ...localArgs(join(dir, "iot-wifi")),
          "--ledger",
          "wifi-ledger.jsonl",
          "--wifi-ssid",
          "factory-net",
          "--verbose",
          "--trace",
          "--json",
        ],
        { PROVISION_WIFI_PASSWORD: secret },
      );
      expect(r.status, r.stderr).toBe(0);
      expect(JSON.parse(r.stdout).ok).toBe(true);
      expect(r.stderr).toMatch(/\[trace\] tx WRITE_CREDENTIALS/);
      expect(r.stdout + r.stderr).not.toContain(secret);
      expect(readFileSync(join(dir, "wifi-ledger.jsonl"), "utf8")).not.toContain(secret);
    } finally {
      await twin.stop();
    }
  });

  it("QA: provision once, then `verify` passes from a fresh process (the local AWS IoT kept its state)", async () => {
    const twin = await startTwin({ stateDir: join(dir, "twin-qa") });
    // The device keeps the MQTT port it was given, so that one is fixed; the others may move.
    const mqttPort = fixedMqttPort();
    const local = localArgs(join(dir, "iot-qa"), mqttPort);
    try {
      const first = await cli(["--port", twin.port, ...local, "--ledger", "qa-ledger.jsonl", "--json"]);
      expect(first.status, first.stderr).toBe(0);
      expect(JSON.parse(first.stdout).mode).toBe("provisioned");

      const qa = await cli(["verify", "--port", twin.port, ...local, "--json"]);
      expect(qa.status, qa.stderr).toBe(0);
      const verified = JSON.parse(qa.stdout);
      expect(verified.mode).toBe("verified");
      expect(verified.thingName).toBe(JSON.parse(first.stdout).thingName);
      expect(JSON.parse(verified.firstMessage.payload)).toEqual({ counter: 0 });
      expect(verified.firstMessage.firstPublishMs).toBeGreaterThan(0);

      // Running the main command again verifies too: no second certificate.
      const again = await cli(["--port", twin.port, ...local, "--ledger", "qa-ledger.jsonl", "--json"]);
      expect(again.status, again.stderr).toBe(0);
      expect(JSON.parse(again.stdout).mode).toBe("verified");
      expect(JSON.parse(again.stdout).certificateId).toBeUndefined();
    } finally {
      await twin.stop();
    }
  }, 90_000);

  it("cleanup --ledger finishes a rollback that a failing cloud left open", async () => {
    const stateDir = join(dir, "iot-cleanup");
    const ledgerFile = join(dir, "cleanup-ledger.jsonl");
    p256Request("c.key", "/CN=cleanup-1", "c.csr");
    const iot = await startLocalIot({ stateDir, detachDelayMs: 20 });
    const target = await targetForLocalIot(iot, { maxAttempts: 1 });
    const ledger = await Ledger.open(ledgerFile);
    try {
      // Attaching fails after the certificate exists, and the rollback's DeleteCertificate is refused too.
      iot.setFaults({
        operations: { AttachThingPrincipal: { serverErrorRate: 1 }, DeleteCertificate: { throttleRate: 1 } },
      });
      await expect(
        registerWithRollback(target.registry, ledger, {
          csrPem: readFileSync(join(dir, "c.csr"), "utf8"),
          thingName: "cleanup-1",
          policyName: "cleanup-policy",
          policyDocument: (account) => leastPrivilegePolicy(account),
        }),
      ).rejects.toMatchObject({ code: "ROLLBACK_INCOMPLETE" });
      iot.setFaults({});
      expect((await target.registry.listCertificates()).length).toBe(1);
    } finally {
      await ledger.close();
      await target.close();
      await iot.stop();
    }

    const r = await cli(["cleanup", "--ledger", ledgerFile, ...localArgs(stateDir), "--json"]);
    expect(r.status, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report.cleaned).toHaveLength(1);
    expect(report.failed).toEqual([]);

    // The service itself (restarted on its state) no longer holds the certificate; a second cleanup finds nothing.
    const again = await startLocalIot({ stateDir });
    const check = await targetForLocalIot(again);
    try {
      expect(await check.registry.listCertificates()).toEqual([]);
    } finally {
      await check.close();
      await again.stop();
    }
    const second = await cli(["cleanup", "--ledger", ledgerFile, ...localArgs(stateDir), "--json"]);
    expect(JSON.parse(second.stdout).cleaned).toEqual([]);
  });
});

describe("provision station", () => {
  it("takes ports as arguments, prints one JSON line per device, writes the manifest once per device; --headroom reaches its limiters", async () => {
    const twins = await Promise.all([0, 1].map((i) => startTwin({ stateDir: join(dir, `st-twin-${i}`) })));
    try {
      const local = localArgs(join(dir, "iot-station"));
      const r = await cli([
        "station",
        ...twins.map((t) => t.port),
        ...local,
        "--manifest",
        "line1",
        "--headroom",
        "5",
        "--json",
      ]);
      expect(r.status, r.stderr).toBe(0);
      expect(r.stderr).toMatch(
        /the station sends at 95% of each; CreateCertificateFromCsr binds: at most 855 devices\/min/,
      );
      const lines = r.stdout
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l));
      expect(lines.map((l) => l.deviceId).sort()).toEqual(twins.map((t) => t.deviceId).sort());
      expect(lines.every((l) => l.ok === true && l.outcome === "provisioned")).toBe(true);
      const csv = readFileSync(join(dir, "line1.manifest.csv"), "utf8").trim().split("\n");
      expect(csv).toHaveLength(3);
      expect(csv[0]).toMatch(/^deviceId,thingName,certificateId/);
    } finally {
      await Promise.all(twins.map((t) => t.stop()));
    }
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
    r.interrupt();
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
