/**
 * Commands as README.md and docs/*.md describe them, through the real
 * binary: firmware render's --key-store, the hint for a missing port, one
 * `provision sim` per state dir, what `provision local-iot` prints for AWS
 * clients.
 */

import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTwin } from "../src/twin/index.js";
import { BIN, runCli } from "./cli.test-helper.js";

let dir: string;

const cli = (args: string[]) => runCli(args, { cwd: dir, inheritEnv: true });

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "provision-new-user-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** `firmware render` for the ESP32-DevKitC into `out`. */
const renderDevkitc = (out: string) => ["firmware", "render", "--board", "esp32-devkitc", "--out", out];

describe("firmware render (docs/firmware.md: a board's other key stores)", () => {
  it("--key-store builds the project for another store the board lists; --json prints the file list", async () => {
    const r = await cli([...renderDevkitc("fw-enc"), "--key-store", "nvs-encrypted", "--json"]);
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { board: string; outDir: string; files: string[] };
    expect(out.board).toBe("esp32-devkitc");
    expect(out.files).toContain("components/provision/include/provision.h");
    const config = readFileSync(join(dir, "fw-enc", "sdkconfig.defaults"), "utf8");
    expect(config).toMatch(/^CONFIG_PROVISION_KEYSTORE_NVS_ENCRYPTED=y$/m);
  });

  it("--key-store the board does not list is a usage error naming the ones it has", async () => {
    const r = await cli([...renderDevkitc("fw-ds"), "--key-store", "ds"]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/nvs, nvs-encrypted/);
    expect(existsSync(join(dir, "fw-ds"))).toBe(false);
  });

  it("rendering the twin points to a command that builds it", async () => {
    const r = await cli(["firmware", "render", "--board", "twin", "--out", "fw-twin"]);
    expect(r.status).toBe(2);
    const hinted = /`provision (firmware build --board twin)`/.exec(r.stderr);
    expect(hinted, r.stderr).not.toBeNull();
    const build = await cli((hinted?.[1] ?? "").split(" "));
    expect(build.status, build.stderr).toBe(0);
    expect(existsSync(build.stdout.trim())).toBe(true);
  }, 120_000);
});

describe("every command a message names exists", () => {
  it("no hint or message in src/ names a `provision X` the CLI does not have (it once named `provision status`)", async () => {
    const help = (await cli(["--help"])).stdout;
    const commands = new Set([...help.matchAll(/^ {2}([a-z][a-z-]*)(?: |$)/gm)].map((m) => m[1]));
    expect(commands).toContain("cleanup");
    const files = readdirSync("src", { recursive: true, withFileTypes: true })
      .filter((e) => e.isFile() && e.name.endsWith(".ts") && !e.name.includes(".test"))
      .map((e) => join(e.parentPath, e.name));
    const named = files.flatMap((f) =>
      [...readFileSync(f, "utf8").matchAll(/[`(]provision ([a-z][a-z-]*)/g)].map((m) => `${f}: ${m[1]}`),
    );
    expect(named.length).toBeGreaterThan(20);
    expect(named.filter((n) => !commands.has(n.split(": ")[1]))).toEqual([]);
  });
});

describe("firmware render's next steps", () => {
  it("quote an output path with a space; idf-linux is built and run here, not flashed", async () => {
    const chip = await cli(["firmware", "render", "--board", "esp32-devkitc", "--out", "fw with space"]);
    expect(chip.status, chip.stderr).toBe(0);
    expect(chip.stderr).toContain("  cd 'fw with space'\n");
    const linux = await cli(["firmware", "render", "--board", "idf-linux", "--out", "fw-linux"]);
    expect(linux.status, linux.stderr).toBe(0);
    expect(linux.stderr).toMatch(/provision sim --board idf-linux/);
    expect(linux.stderr).toMatch(/idf\.py --preview set-target linux && idf\.py build/);
    expect(linux.stderr).not.toMatch(/flash monitor|<serial port>/);
  });
});

describe("a port that does not exist", () => {
  it("exits 10 and points to `provision ports`, not to a port search the tool does not do", async () => {
    const r = await cli(["--port", join(dir, "ttyUSB-missing")]);
    expect(r.status).toBe(10);
    expect(r.stderr).toMatch(/`provision ports`/);
    expect(r.stderr).not.toMatch(/find the port/);
  });
});

describe("two `provision sim` on one state dir (the default .state/twins)", () => {
  it("the second is refused while the first runs (one device, one flash), and starts once it has stopped", async () => {
    const stateDir = join(dir, "twins", "twin-0");
    const first = await startTwin({ stateDir });
    try {
      const r = await cli(["sim", "--state-dir", join(dir, "twins")]);
      expect(r.status).toBe(3);
      expect(r.stderr).toContain(`in use by another twin (pid ${first.pid})`);
      expect(r.stdout).toBe("");
    } finally {
      await first.stop();
    }
    const again = await startTwin({ stateDir });
    expect(again.deviceId).toBe(first.deviceId);
    await again.stop();
  }, 60_000);
});

describe("provision local-iot: what it prints for AWS clients", () => {
  // Each run is stopped with SIGINT the moment its output arrives: that Ctrl-C used to be lost (hang).
  it("sets AWS_DEFAULT_REGION too (the AWS CLI v1 reads no AWS_REGION), in --json and in the export lines", async () => {
    const read = (json: boolean) =>
      new Promise<string>((res) => {
        const args = [BIN, "local-iot", "--state-dir", join(dir, "iot"), ...(json ? ["--json"] : [])];
        const child = spawn(process.execPath, args, { cwd: dir });
        let out = "";
        child.stdout.on("data", (d) => {
          out += d;
          if ((json && out.includes("\n")) || out.includes("AWS_DEFAULT_REGION")) child.kill("SIGINT");
        });
        child.on("close", () => res(out));
      });
    const described = JSON.parse(await read(true)) as { region: string; env: Record<string, string> };
    expect(described.env.AWS_DEFAULT_REGION).toBe(described.region);
    expect(await read(false)).toContain(`export AWS_DEFAULT_REGION=${described.region}`);
  }, 30_000);
});
