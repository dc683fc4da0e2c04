/**
 * What the provision component refuses when a product's project is
 * configured (components/provision/provision_checks.cmake), with the real
 * ESP-IDF v5.5.5 kit's cmake: a partition table without the "nvs" partition
 * or with one too small, flash-encrypted NVS without its nvs_keys partition,
 * and the DS key sharing NVS encryption's eFuse key block. Each message says
 * what is missing and what to write. A table that has what the component
 * needs configures (the control case), on a chip target too, where the
 * component's Kconfig defaults take the board id from the target.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { configureIdfProject, resolveIdf } from "../src/firmware/idf.js";

const PRODUCT_DIR = resolve("test/fixtures/idf-product");
const dir = mkdtempSync(join(tmpdir(), "component-checks-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const CONFIGURE_TIMEOUT_MS = 120_000;

/** The product fixture with its own partition table and extra settings, configured for target. */
async function configure(name: string, target: string, partitions: string[], settings: string[] = []) {
  const projectDir = join(dir, name);
  cpSync(PRODUCT_DIR, projectDir, { recursive: true });
  // The copy lives elsewhere: its manifest names the component by absolute path.
  const manifest = join(projectDir, "main", "idf_component.yml");
  writeFileSync(
    manifest,
    readFileSync(manifest, "utf8").replace(
      /path: ".*"/,
      `path: "${resolve("firmware-templates/esp-idf/components/provision")}"`,
    ),
  );
  writeFileSync(join(projectDir, "partitions.csv"), `${partitions.join("\n")}\n`);
  writeFileSync(
    join(projectDir, "sdkconfig.defaults"),
    [
      "CONFIG_PARTITION_TABLE_CUSTOM=y",
      'CONFIG_PARTITION_TABLE_CUSTOM_FILENAME="partitions.csv"',
      ...settings,
      "",
    ].join("\n"),
  );
  const idf = await resolveIdf({ kitVersion: "5.5.5" });
  const r = await configureIdfProject({ idf, projectDir, buildDir: join(projectDir, "build"), target });
  return {
    ok: r.ok,
    output: r.output.replace(/\s+/g, " "),
    sdkconfig: join(projectDir, "build", "sdkconfig"),
  };
}

const APP = "factory, app, factory, 0x10000, 1M,";

describe("the provision component refuses at configure time", () => {
  it(
    "a partition table without an nvs partition",
    async () => {
      const r = await configure("no-nvs", "linux", [APP]);
      expect(r.ok).toBe(false);
      expect(r.output).toMatch(
        /provision: the partition table .*partitions\.csv has no data partition "nvs"/,
      );
      expect(r.output).toContain('"nvs, data, nvs, , 0x6000,"');
    },
    CONFIGURE_TIMEOUT_MS,
  );

  it(
    "an nvs partition smaller than CONFIG_PROVISION_NVS_MIN_SIZE",
    async () => {
      const r = await configure("small-nvs", "linux", ["nvs, data, nvs, 0x9000, 12K,", APP]);
      expect(r.ok).toBe(false);
      expect(r.output).toMatch(/the "nvs" partition in .* has 12288 bytes; .* at least 24576/);
    },
    CONFIGURE_TIMEOUT_MS,
  );

  it(
    "flash-encrypted NVS without an encrypted nvs_keys partition",
    async () => {
      const r = await configure(
        "no-nvs-keys",
        "esp32",
        ["nvs, data, nvs, , 0x6000,", "phy_init, data, phy, , 0x1000,", APP],
        [
          "CONFIG_PARTITION_TABLE_OFFSET=0xD000",
          "CONFIG_SECURE_FLASH_ENC_ENABLED=y",
          "CONFIG_SECURE_FLASH_ENCRYPTION_MODE_DEVELOPMENT=y",
          "CONFIG_NVS_ENCRYPTION=y",
          "CONFIG_NVS_SEC_KEY_PROTECT_USING_FLASH_ENC=y",
        ],
      );
      expect(r.ok).toBe(false);
      expect(r.output).toMatch(/keeps its keys in an nvs_keys partition, and .* has none/);
    },
    CONFIGURE_TIMEOUT_MS,
  );

  it(
    "the DS key's HMAC key on the eFuse block NVS encryption uses",
    async () => {
      const r = await configure(
        "same-block",
        "esp32c3",
        ["nvs, data, nvs, , 0x6000,", "phy_init, data, phy, , 0x1000,", APP],
        [
          "CONFIG_NVS_ENCRYPTION=y",
          "CONFIG_NVS_SEC_KEY_PROTECT_USING_HMAC=y",
          "CONFIG_NVS_SEC_HMAC_EFUSE_KEY_ID=3",
          "CONFIG_ESP_TLS_USE_DS_PERIPHERAL=y",
          "CONFIG_PROVISION_KEYSTORE_DS=y",
          "CONFIG_PROVISION_DS_EFUSE_KEY_BLOCK=3",
        ],
      );
      expect(r.ok).toBe(false);
      expect(r.output).toMatch(/are both eFuse key block 3: a block holds one HMAC key/);
    },
    CONFIGURE_TIMEOUT_MS,
  );

  it(
    "and configures a table that has what it needs, with the target as the default board id",
    async () => {
      const r = await configure("fine", "esp32c3", [
        "nvs, data, nvs, , 0x6000,",
        "phy_init, data, phy, , 0x1000,",
        APP,
      ]);
      expect(r.ok, r.output.slice(-2000)).toBe(true);
      const sdkconfig = readFileSync(r.sdkconfig, "utf8");
      expect(sdkconfig).toContain('CONFIG_PROVISION_BOARD_ID="esp32c3"');
      expect(sdkconfig).toContain("CONFIG_PROVISION_KEYSTORE_NVS=y");
      expect(sdkconfig).toContain("CONFIG_PROVISION_CONSOLE_UART=y");
    },
    CONFIGURE_TIMEOUT_MS,
  );
});
