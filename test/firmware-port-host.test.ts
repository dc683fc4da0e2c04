/**
 * Runs the ESP-IDF port's storage code on this machine: each board's key
 * store (NVS, DS peripheral, ATECC608) and the NVS credential store, linked
 * with the real core and Debian's mbedTLS 2.28 against small fakes of NVS,
 * eFuse, the DS peripheral and the ATECC608 (test/firmware-port-host/fakes.c).
 * The core builds a CSR through each key store and openssl verifies it.
 * What the fakes cannot show (the real peripherals, ESP-IDF's APIs) is left
 * to hardware and the ESP-IDF CI build (docs/firmware.md).
 */
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { renderFirmware } from "../src/firmware/render.js";

const HERE = import.meta.dirname;
// The key store sources each build compiles (keystore_slots.c: the slot map shared by NVS and DS;
// keystore_common.c: the interface filling every store shares).
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
    sources: ["keystore_common.c", "keystore_ds.c", "keystore_slots.c"],
  },
  { board: "m5stack-core2-aws", store: "atecc608", sources: ["keystore_atecc608.c", "keystore_common.c"] },
] as const;

describe.each(BOARDS)("port storage of $board ($store)", ({ board, sources }) => {
  const dir = mkdtempSync(join(tmpdir(), `fw-host-${board}-`));
  renderFirmware({ boardId: board, outDir: dir });
  const main = join(dir, "main");
  const core = join(dir, "components/prov_core");
  const exe = join(dir, "test_port_storage");
  const csr = join(dir, "csr.der");

  it("compiles and passes every check", () => {
    const keystore = readdirSync(main).filter((f) => f.startsWith("keystore_") && f.endsWith(".c"));
    expect(keystore.sort()).toEqual([...sources]);
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
        `-I${main}`,
        `-I${join(core, "include")}`,
        `-I${join(core, "src")}`,
        join(HERE, "firmware-port-host/test_port_storage.c"),
        join(HERE, "firmware-port-host/fakes.c"),
        ...keystore.map((f) => join(main, f)),
        // the DS store derives its peripheral operands in ds_params.c
        ...readdirSync(main)
          .filter((f) => f === "ds_params.c")
          .map((f) => join(main, f)),
        join(main, "credstore_nvs.c"),
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
