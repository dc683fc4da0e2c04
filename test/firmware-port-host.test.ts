/**
 * Runs the ESP-IDF port's storage code on this machine: each board's key
 * store (NVS, DS peripheral, ATECC608), the NVS credential store and the NVS
 * layout version, configured from the board's Kconfig values and linked
 * with the real core and Debian's mbedTLS 2.28 against small fakes of NVS,
 * eFuse, the DS peripheral and the ATECC608 (test/firmware-port-host/fakes.c).
 * The core builds a CSR through each key store and openssl verifies it.
 * What the fakes cannot show (the real peripherals, ESP-IDF's APIs) is left
 * to hardware and the ESP-IDF CI build (docs/firmware.md).
 */
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseSdkconfig } from "../scripts/idf/sdkconfig-check.js";
import { COMPONENT_CORE_DIR, COMPONENT_DIR, renderFirmware } from "../src/firmware/render.js";

const HERE = import.meta.dirname;

/** The board's Kconfig values as the compiler sees them from sdkconfig.h (y -> 1; "not set" -> absent). */
function kconfigDefines(projectDir: string): string[] {
  return ["sdkconfig.defaults", "sdkconfig.defaults.v5"]
    .flatMap((f) => parseSdkconfig(readFileSync(join(projectDir, f), "utf8"), f))
    .filter((l) => l.value !== "n")
    .map((l) => `-D${l.symbol}=${l.value === "y" ? "1" : l.value}`);
}

// The key store sources the component's CMakeLists.txt compiles for each store (keystore_slots.c: the
// slot map shared by NVS and DS; keystore_common.c: the interface filling every store shares).
const BOARDS = [
  {
    board: "esp32-devkitc",
    store: "nvs",
    sources: ["keystore_common.c", "keystore_nvs.c", "keystore_slots.c"],
  },
  {
    board: "esp32-c3-devkitm-1",
    store: "nvs-encrypted",
    sources: ["keystore_common.c", "keystore_nvs.c", "keystore_slots.c"],
  },
  {
    board: "esp32-s3-devkitc-1",
    store: "ds",
    // the DS store derives its peripheral operands in ds_params.c
    sources: ["ds_params.c", "keystore_common.c", "keystore_ds.c", "keystore_slots.c"],
  },
  { board: "m5stack-core2-aws", store: "atecc608", sources: ["keystore_atecc608.c", "keystore_common.c"] },
] as const;

describe.each(BOARDS)("port storage of $board ($store)", ({ board, sources }) => {
  const dir = mkdtempSync(join(tmpdir(), `fw-host-${board}-`));
  renderFirmware({ boardId: board, outDir: dir });
  const component = join(dir, COMPONENT_DIR);
  const src = join(component, "src");
  const core = join(dir, COMPONENT_CORE_DIR);
  const exe = join(dir, "test_port_storage");
  const csr = join(dir, "csr.der");

  it("compiles and passes every check", () => {
    execFileSync(
      "gcc",
      [
        "-std=gnu11",
        "-Wall",
        "-Wextra",
        "-Werror",
        "-O1",
        `-I${join(HERE, "firmware-port-host", "stub-headers")}`,
        `-I${join(HERE, "firmware-port-host")}`,
        `-I${join(component, "private_include")}`,
        `-I${join(component, "include")}`,
        `-I${join(core, "include")}`,
        `-I${join(core, "src")}`,
        ...kconfigDefines(dir),
        join(HERE, "firmware-port-host/test_port_storage.c"),
        join(HERE, "firmware-port-host/fakes.c"),
        ...sources.map((f) => join(src, f)),
        join(src, "credstore_nvs.c"),
        join(src, "nvs_layout.c"),
        ...readdirSync(join(core, "src"))
          .filter((f) => f.endsWith(".c"))
          .map((f) => join(core, "src", f)),
        "-lmbedx509",
        "-lmbedcrypto",
        "-o",
        exe,
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    const run = spawnSync(exe, [csr], { encoding: "utf8" });
    const failures = run.stdout.split("\n").filter((l) => l.startsWith("not ok"));
    expect(failures).toEqual([]);
    expect(run.stdout).toMatch(/^ok - /m);
    expect(run.stdout.trim().endsWith("0 failed")).toBe(true);
    expect(run.status).toBe(0);
  });

  it("the CSR the core built through this key store verifies with openssl", () => {
    const out = spawnSync("openssl", ["req", "-in", csr, "-inform", "DER", "-verify", "-noout", "-subject"], {
      encoding: "utf8",
    });
    expect(out.stderr + out.stdout).toMatch(/verify OK/);
    expect(out.stdout).toContain("CN = thing-0001");
    expect(out.status).toBe(0);
  });
});
