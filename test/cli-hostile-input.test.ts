/**
 * The second round of hostile input (issue #21), each refused before a
 * device or the cloud is touched, with the flag and the limit named: the
 * real binary spawned, its exit status, stdout and stderr compared.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "./cli.test-helper.js";
import { selfSignedCertificate } from "./openssl.test-helper.js";

let dir: string;

const cli = (args: string[], env: NodeJS.ProcessEnv = {}) => runCli(args, { cwd: dir, env });

/** A real certificate (self-signed by openssl, independent of the code under test). */
const PEM = "cert.pem";

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "provision-hostile-"));
  selfSignedCertificate(dir, "cert", "/CN=t1");
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("the ledger and the manifest are never one file", () => {
  it("the README's old station example (--ledger line3.jsonl --manifest line3) now writes two files apart", async () => {
    // Past the check, this run stops at the next one it meets: no AWS region here.
    const r = await cli([
      "station",
      "/dev/nonexistent-port",
      "--ledger",
      "line3.jsonl",
      "--manifest",
      "line3",
    ]);
    expect(r.stderr).not.toMatch(/would be the manifest/);
    expect(r.stderr).toMatch(/no AWS region configured/);
  });

  it("a ledger that is the manifest's JSONL or CSV: exit 2 naming both, before any port is opened", async () => {
    for (const ledger of ["line3.manifest.jsonl", "./line3.manifest.csv"]) {
      const r = await cli(["station", "/dev/nonexistent-port", "--ledger", ledger, "--manifest", "line3"]);
      expect(r.status, r.stderr).toBe(2);
      expect(r.stderr).toMatch(/the ledger .*line3\.manifest\.(jsonl|csv) would be the manifest's/);
      expect(r.stderr).toMatch(/give --ledger its own file \(e\.g\. line3-ledger\.jsonl\)/);
      expect(r.stderr).not.toMatch(/nonexistent-port/);
      expect(existsSync(join(dir, ledger))).toBe(false);
    }
  });
});

describe("install checks what provision checks, by the same code, before the port is opened", () => {
  // A port that does not exist: a check that passed would end at it (exit 10).
  const install = (extra: string[], env: NodeJS.ProcessEnv = {}) =>
    cli(
      [
        "install",
        "--port",
        "/dev/nonexistent-port",
        "--cert",
        PEM,
        "--endpoint",
        "a1b2-ats.iot.eu-west-1.amazonaws.com",
        "--thing-name",
        "t1",
        ...extra,
      ],
      env,
    );

  it.each([
    [
      ["--endpoint", "a1b2 -ats.iot.example.com"],
      /--endpoint "a1b2 -ats\.iot\.example\.com": is not a host name/,
    ],
    [["--endpoint", "https://a1b2-ats.iot.example.com"], /is a URL: give the host name only/],
    [["--thing-name", "t 1/#"], /--thing-name "t 1\/#": thing name "t 1\/#" is not valid for AWS IoT/],
    [["--topic", "a/#"], /--topic "a\/#": "#" is a wildcard/],
    [["--wifi-ssid", "x".repeat(33)], /--wifi-ssid .*: is 33 bytes; an SSID is 1-32 bytes/],
    [["--interval", "5"], /--interval 5: must be a whole number of ms, at least 1000/],
  ])("%j: exit 2 naming the flag", async (extra, message) => {
    const r = await install(extra);
    expect(r.status, r.stderr).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).not.toMatch(/nonexistent-port|root CA/);
  });

  it("a Wi-Fi password of 5 characters from the environment: exit 2 naming the variable, never the password", async () => {
    const r = await install(["--wifi-ssid", "factory"], { PROVISION_WIFI_PASSWORD: "s3cr7" });
    expect(r.status, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/PROVISION_WIFI_PASSWORD: is 5 bytes; WPA2 wants 8-63 characters/);
    expect(r.stderr).not.toContain("s3cr7");
  });

  it("a certificate file that only holds the PEM markers is refused", async () => {
    writeFileSync(
      join(dir, "fake.pem"),
      "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n",
    );
    const r = await cli([
      "install",
      "--port",
      "/dev/nonexistent-port",
      "--cert",
      "fake.pem",
      "--endpoint",
      "h.example.com",
      "--thing-name",
      "t1",
    ]);
    expect(r.status, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/--cert fake\.pem: a certificate in it does not parse/);
  });

  it("control: valid values get as far as the port", async () => {
    const r = await install([]);
    expect(r.status, r.stderr).toBe(10);
    expect(r.stderr).toMatch(/nonexistent-port/);
  });
});

describe("every file-taking flag has a size cap", () => {
  /** Runs the CLI under /usr/bin/time: its peak resident size (KiB) is printed last on stderr. */
  const measured = (args: string[]) =>
    runCli(args, {
      cwd: dir,
      prefix: ["/usr/bin/time", "-f", "maxrss=%M"],
      env: { PROVISION_WIFI_SSID: "factory" },
    });

  it.each([
    [
      ["--port", "/dev/nonexistent-port", "--wifi-password-file", "/dev/zero"],
      "--wifi-password-file",
      "1 KiB",
    ],
    [["--port", "/dev/nonexistent-port", "--config", "/dev/zero"], "--config", "256 KiB"],
    [["--port", "/dev/nonexistent-port", "--policy-document", "/dev/zero"], "--policy-document", "32 KiB"],
    [
      [
        "install",
        "--port",
        "/dev/nonexistent-port",
        "--cert",
        "/dev/zero",
        "--endpoint",
        "h.example.com",
        "--thing-name",
        "t1",
      ],
      "--cert",
      "16 KiB",
    ],
    [
      [
        "install",
        "--port",
        "/dev/nonexistent-port",
        "--cert",
        PEM,
        "--ca",
        "/dev/zero",
        "--endpoint",
        "h.example.com",
        "--thing-name",
        "t1",
      ],
      "--ca",
      "64 KiB",
    ],
    [["station", "--fixture", "/dev/zero"], "--fixture", "256 KiB"],
    [["station", "/dev/nonexistent-port", "--local-iot-info", "/dev/zero"], "--local-iot-info", "256 KiB"],
  ])(
    "%j: /dev/zero is refused with exit 2 naming the limit, in bounded memory",
    async (args, flag, limit) => {
      const r = await measured(args);
      expect(r.status, r.stderr).toBe(2);
      expect(r.stderr).toContain(`${flag} /dev/zero`);
      expect(r.stderr).toContain(`the limit is ${limit}`);
      const rss = Number(/maxrss=(\d+)/.exec(r.stderr)?.[1]);
      // The CLI alone is ~150 MB resident; reading /dev/zero unbounded went past 500 MB within a second.
      expect(rss).toBeGreaterThan(0);
      expect(rss).toBeLessThan(400_000);
    },
  );

  it("a regular file over the cap is refused by its size, before it is read", async () => {
    writeFileSync(join(dir, "big.json"), `{"board":"${"x".repeat(300 * 1024)}"}`);
    const r = await cli(["--port", "/dev/nonexistent-port", "--config", "big.json"]);
    expect(r.status, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/--config big\.json: the config file is 30\d{4} bytes; the limit is 256 KiB/);
  });
});

describe("--quota names", () => {
  it.each([
    ["CreateCertificateFromCSR=40", /did you mean CreateCertificateFromCsr\?/],
    ["Bogus=5", /Bogus is not an AWS IoT operation this tool calls/],
  ])("%s: exit 2 before any port is opened (it used to be ignored)", async (quota, message) => {
    const r = await cli(["station", "/dev/nonexistent-port", "--quota", quota]);
    expect(r.status, r.stderr).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).not.toMatch(/nonexistent-port/);
  });
});

describe("an allow-all policy document", () => {
  it("is warned about before anything is touched (it used to be attached without a word)", async () => {
    writeFileSync(
      join(dir, "allow-all.json"),
      JSON.stringify({
        Version: "2012-10-17",
        Statement: [{ Effect: "Allow", Action: "iot:*", Resource: "*" }],
      }),
    );
    const r = await cli(["--port", "/dev/nonexistent-port", "--policy-document", "allow-all.json"]);
    expect(r.stderr).toMatch(
      /warning: the policy document allows every IoT action \(iot:\*\) on every resource/,
    );
    expect(r.status, r.stderr).toBe(10);
  });
});
