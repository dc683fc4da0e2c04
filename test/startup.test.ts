/**
 * Start-up stays light (docs/architecture.md, "Loading on demand"):
 * `provision --version` and `--help` load no library at all, and
 * `provision --port P` writes its first byte to the port before any of the
 * heavy ones (the AWS SDK, the local AWS IoT's broker, Redis, MQTT, zod,
 * handlebars, X.509) is loaded. Also: what bin/provision.js answers itself
 * is what commander would print.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { BIN } from "./cli.test-helper.js";

const ROOT = resolve(import.meta.dirname, "..");
const MAIN = join(ROOT, "dist", "cli", "main.js");
const HEAVY = [
  "@aws-sdk",
  "@smithy",
  "@aws-crypto",
  "aedes",
  "ws",
  "ioredis",
  "mqtt",
  "zod",
  "handlebars",
  "@peculiar/x509",
  "reflect-metadata",
  // flashing (provision flash, --flash): loaded only when an image is given
  "esptool-js",
];

const work = mkdtempSync(join(tmpdir(), "provision-startup-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/**
 * A preload that reports every package the process loads: ESM imports
 * through a resolve hook (as they happen), CommonJS ones from require.cache
 * when SIGUSR2 asks (then it exits).
 */
writeFileSync(
  join(work, "hooks.mjs"),
  `export async function resolve(specifier, context, next) {
  const r = await next(specifier, context);
  if (r.url.includes("/node_modules/")) process._rawDebug("LOADED " + r.url);
  return r;
}
`,
);
writeFileSync(
  join(work, "preload.mjs"),
  `import { createRequire, register } from "node:module";
register("./hooks.mjs", import.meta.url);
const require = createRequire(import.meta.url);
process.on("SIGUSR2", () => {
  for (const f of Object.keys(require.cache)) if (f.includes("/node_modules/")) process._rawDebug("LOADED " + f);
  process.exit(0);
});
`,
);
const PRELOAD = join(work, "preload.mjs");

/** Package names ("@aws-sdk/client-iot" -> "@aws-sdk/client-iot", "zod/v4/core/x.js" -> "zod") in LOADED lines. */
function packagesIn(stderr: string): string[] {
  const names = [...stderr.matchAll(/^LOADED .*\/node_modules\/((?:@[^/]+\/)?[^/]+)/gm)].map(
    (m) => m[1] as string,
  );
  return [...new Set(names)].sort();
}
const heavyIn = (packages: string[]) =>
  packages.filter((p) => HEAVY.some((h) => p === h || p.startsWith(`${h}/`)));

function exited(child: ChildProcess): Promise<void> {
  return new Promise((done) => child.once("exit", () => done()));
}

const env = { PATH: process.env.PATH, HOME: work };

describe("what bin/provision.js answers itself", () => {
  it("--version: package.json's version, as commander gives it", () => {
    const version = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")).version;
    const fast = spawnSync(process.execPath, [BIN, "--version"], { encoding: "utf8", env });
    const commander = spawnSync(process.execPath, [MAIN, "--version"], { encoding: "utf8", env });
    expect(fast.status).toBe(0);
    expect(fast.stdout).toBe(`${version}\n`);
    expect(commander.stdout).toBe(fast.stdout);
  });

  it("--help and -h off a terminal: commander's text, byte for byte, exit 0", () => {
    const commander = spawnSync(process.execPath, [MAIN, "--help"], { encoding: "utf8", env });
    expect(commander.status).toBe(0);
    expect(commander.stdout).toMatch(/^Usage: provision /);
    for (const flag of ["--help", "-h"]) {
      const fast = spawnSync(process.execPath, [BIN, flag], { encoding: "utf8", env });
      expect(fast.status, flag).toBe(0);
      expect(fast.stdout, flag).toBe(commander.stdout);
    }
  });
});

describe("what a start loads", () => {
  it("--version and --help load no package at all", () => {
    for (const flag of ["--version", "--help"]) {
      const r = spawnSync(process.execPath, ["--import", PRELOAD, BIN, flag], { encoding: "utf8", env });
      expect(r.status, r.stderr).toBe(0);
      expect(packagesIn(r.stderr), flag).toEqual([]);
    }
  });

  it("provision --port P writes its first byte before any heavy library is loaded", async () => {
    // socat copies what the tool writes on the pty to its stdout; no device answers.
    const port = join(work, "tty");
    const socat = spawn("socat", ["-u", `PTY,link=${port},rawer`, "STDOUT"], {
      stdio: ["ignore", "pipe", "ignore"],
    });
    const firstByte = new Promise<void>((done) => socat.stdout.once("data", () => done()));
    try {
      for (let i = 0; !existsSync(port); i++) {
        if (i > 500) throw new Error("socat made no pty (apt-get install socat)");
        await new Promise((r) => setTimeout(r, 10));
      }
      const cli = spawn(process.execPath, ["--import", PRELOAD, BIN, "--port", port], {
        cwd: work,
        env,
        stdio: ["ignore", "ignore", "pipe"],
      });
      let stderr = "";
      cli.stderr.on("data", (d) => {
        stderr += d;
      });
      await firstByte;
      cli.kill("SIGUSR2");
      await exited(cli);
      const packages = packagesIn(stderr);
      // The parser sees loads: the serial port's binding is there.
      expect(packages).toContain("@serialport/bindings-cpp");
      expect(heavyIn(packages)).toEqual([]);
    } finally {
      socat.kill();
      await exited(socat);
    }
  });
});
