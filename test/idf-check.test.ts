/**
 * The pieces of the ESP-IDF compile check (scripts/idf-check.ts) that decide
 * pass or fail, and the version checks a user meets before any compile: the
 * rendered project's CMakeLists.txt refuses ESP-IDF older than 5.2 (and warns
 * past 6.0) at configure time, and the render refuses the ATECC608 store for
 * ESP-IDF v6.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { argvFor, ownCommands, splitCommand } from "../scripts/idf/compile-commands.js";
import { checkSdkconfig, describeProblem, parseSdkconfig } from "../scripts/idf/sdkconfig-check.js";
import { ProvisionError } from "../src/errors.js";
import { checkIdfVersion, idfSelection, parseVersion } from "../src/firmware/idf.js";
import { renderFirmware, sdkconfigDefaultsFiles } from "../src/firmware/render.js";

const dir = mkdtempSync(join(tmpdir(), "idf-check-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("sdkconfig check", () => {
  const generated = [
    'CONFIG_IDF_TARGET="esp32c3"',
    "CONFIG_MQTT_USE_CUSTOM_CONFIG=y",
    "CONFIG_MQTT_OUTBOX_EXPIRED_TIMEOUT_MS=300000",
    "# CONFIG_ESP_WIFI_NVS_ENABLED is not set",
    "CONFIG_PARTITION_TABLE_OFFSET=0x8000",
  ].join("\n");

  it("passes when every line is in force (strings, numbers, hex in any case, 'is not set' for n)", () => {
    const defaults = parseSdkconfig(
      [
        "# comment",
        'CONFIG_IDF_TARGET="esp32c3"',
        "CONFIG_MQTT_OUTBOX_EXPIRED_TIMEOUT_MS=300000",
        "CONFIG_ESP_WIFI_NVS_ENABLED=n",
        "CONFIG_PARTITION_TABLE_OFFSET=0x08000",
      ].join("\n"),
      "sdkconfig.defaults",
    );
    expect(defaults).toHaveLength(4);
    expect(checkSdkconfig(defaults, generated)).toEqual([]);
  });

  it("fails an unknown symbol or one whose dependencies are unmet (absent), and a value that did not stick", () => {
    const defaults = parseSdkconfig(
      ["CONFIG_MBEDTLS_X509_CSR_WRITE_C=y", "CONFIG_MQTT_OUTBOX_EXPIRED_TIMEOUT_MS=60000"].join("\n"),
      "sdkconfig.defaults",
    );
    const problems = checkSdkconfig(defaults, generated);
    expect(problems.map((p) => [p.symbol, p.actual])).toEqual([
      ["CONFIG_MBEDTLS_X509_CSR_WRITE_C", undefined],
      ["CONFIG_MQTT_OUTBOX_EXPIRED_TIMEOUT_MS", "300000"],
    ]);
    expect(describeProblem(problems[0] as never)).toMatch(
      /^sdkconfig.defaults:1: CONFIG_MBEDTLS_X509_CSR_WRITE_C=y not in the generated sdkconfig/,
    );
  });

  it("lets a later fragment override an earlier one, as ESP-IDF does", () => {
    const defaults = [
      ...parseSdkconfig("CONFIG_MQTT_OUTBOX_EXPIRED_TIMEOUT_MS=1", "sdkconfig.defaults"),
      ...parseSdkconfig("CONFIG_MQTT_OUTBOX_EXPIRED_TIMEOUT_MS=300000", "sdkconfig.defaults.v6"),
    ];
    expect(checkSdkconfig(defaults, generated)).toEqual([]);
  });

  it("reads the fragment of each major version", () => {
    expect(sdkconfigDefaultsFiles(parseVersion("5.5.5"))).toEqual([
      "sdkconfig.defaults",
      "sdkconfig.defaults.v5",
    ]);
    expect(sdkconfigDefaultsFiles(parseVersion("6.0.2"))).toEqual([
      "sdkconfig.defaults",
      "sdkconfig.defaults.v6",
    ]);
  });
});

describe("compile commands", () => {
  const command =
    '/kit/riscv32-esp-elf-gcc -DIDF_VER=\\"v5.5.5\\" -I/p/main -fdiagnostics-color=always -Og -std=gnu17 -o esp-idf/main/x.c.obj -c /p/main/x.c';

  it("splits ESP-IDF's quoted defines", () => {
    expect(splitCommand(command)).toContain('-DIDF_VER="v5.5.5"');
  });

  it("swaps the optimisation level and the object file, and asks for plain diagnostics", () => {
    const argv = argvFor({ directory: "/p/build", file: "/p/main/x.c", command }, "-O2", "/tmp/x.o");
    expect(argv).toContain("-O2");
    expect(argv).not.toContain("-Og");
    expect(argv[argv.indexOf("-o") + 1]).toBe("/tmp/x.o");
    expect(argv).toContain("-fdiagnostics-color=never");
  });

  it("keeps only the project's own sources", () => {
    const entries = [
      "/p/main/a.c",
      "/p/components/prov_core/src/b.c",
      "/idf/components/log/c.c",
      "/p/build/d.c",
    ].map((file) => ({ directory: "/p/build", file, command }));
    expect(ownCommands(entries, "/p").map((e) => e.file)).toEqual([
      "/p/main/a.c",
      "/p/components/prov_core/src/b.c",
    ]);
  });

  it("keeps the sources of a component a manifest points at outside the project", () => {
    const entries = ["/p/main/a.c", "/repo/components/provision/src/agent.c", "/repo/other/x.c"].map(
      (file) => ({ directory: "/p/build", file, command }),
    );
    expect(ownCommands(entries, "/p", ["/repo/components/provision"]).map((e) => e.file)).toEqual([
      "/p/main/a.c",
      "/repo/components/provision/src/agent.c",
    ]);
  });
});

describe("ESP-IDF versions", () => {
  /** An ESP-IDF folder that only declares its version: enough for the project's check, which runs first. */
  function fakeIdf(version: string): string {
    const [major, minor, patch] = version.split(".");
    const root = join(dir, `idf-${version}`);
    mkdirSync(join(root, "tools", "cmake"), { recursive: true });
    writeFileSync(
      join(root, "tools", "cmake", "version.cmake"),
      `set(IDF_VERSION_MAJOR ${major})\nset(IDF_VERSION_MINOR ${minor})\nset(IDF_VERSION_PATCH ${patch})\n`,
    );
    return root;
  }

  it("a project configured with ESP-IDF 5.1 stops with one clear message", () => {
    const project = join(dir, "fw-5.1");
    renderFirmware({ boardId: "esp32-c3-devkitm-1", outDir: project });
    const r = spawnSync("cmake", ["-S", project, "-B", join(project, "build")], {
      env: { ...process.env, IDF_PATH: fakeIdf("5.1.4") },
      encoding: "utf8",
    });
    expect(r.status).not.toBe(0);
    const message = r.stderr.replace(/\s+/g, " "); // CMake wraps long messages
    expect(message).toContain("ESP-IDF v5.1.4 is too old for the provisioning firmware");
    expect(message).toContain("it needs v5.2 or newer");
  });

  it("the render refuses ESP-IDF 5.1 and warns about a version newer than any checked", () => {
    expect(() => checkIdfVersion(parseVersion("5.1.4"), "IDF_PATH")).toThrow(/too old/);
    expect(checkIdfVersion(parseVersion("5.5.5"), "IDF_PATH")).toBe("");
    expect(checkIdfVersion(parseVersion("6.0.0"), "IDF_PATH")).toBe("");
    expect(checkIdfVersion(parseVersion("6.1.0"), "IDF_PATH")).toMatch(/newer than any version/);
  });

  it("refuses the ATECC608 store for ESP-IDF v6, saying why", () => {
    let error: unknown;
    try {
      renderFirmware({
        boardId: "m5stack-core2-aws",
        outDir: join(dir, "atecc-v6"),
        keyStore: "atecc608",
        idfVersion: parseVersion("6.0.2"),
      });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ProvisionError);
    expect((error as ProvisionError).code).toBe("USAGE");
    expect((error as ProvisionError).message).toMatch(
      /esp-cryptoauthlib .* Mbed TLS 3, and ESP-IDF v6 ships Mbed TLS 4/,
    );
    expect((error as ProvisionError).hint).toContain("nvs");
    // v5 renders it
    renderFirmware({
      boardId: "m5stack-core2-aws",
      outDir: join(dir, "atecc-v5"),
      keyStore: "atecc608",
      idfVersion: parseVersion("5.5.5"),
    });
  });

  it("--idf takes a kit version or a folder", () => {
    expect(idfSelection("6.0.2")).toEqual({ kitVersion: "6.0.2" });
    expect(idfSelection("v5.5.5")).toEqual({ kitVersion: "5.5.5" });
    expect(idfSelection("/opt/esp-idf")).toEqual({ idfPath: "/opt/esp-idf" });
    expect(idfSelection(undefined)).toEqual({});
  });
});
