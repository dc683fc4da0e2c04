import { mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative, sep } from "node:path";
import { describe, expect, it } from "vitest";
import { getBoard, loadBoards } from "../src/boards/index.js";
import { thrown } from "../src/errors.test-helper.js";
import {
  COMPONENT_CORE_DIR,
  COMPONENT_DIR,
  FIRMWARE_TEMPLATES_DIR_DEFAULT,
  renderFirmware,
} from "../src/firmware/render.js";

const ESP_BOARDS = loadBoards()
  .filter((b) => b.chip !== "host")
  .map((b) => b.id);
const CORE_DIR = join(FIRMWARE_TEMPLATES_DIR_DEFAULT, "core");

function walk(root: string): string[] {
  const out: string[] = [];
  const visit = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const full = join(dir, name);
      if (statSync(full).isDirectory()) visit(full);
      else out.push(relative(root, full).split(sep).join("/"));
    }
  };
  visit(root);
  return out.sort();
}

const rendered = new Map<string, { dir: string; files: string[] }>();
function render(boardId: string): { dir: string; files: string[] } {
  const hit = rendered.get(boardId);
  if (hit) return hit;
  const dir = mkdtempSync(join(tmpdir(), `fw-${boardId}-`));
  const { files } = renderFirmware({ boardId, outDir: dir });
  const out = { dir, files };
  rendered.set(boardId, out);
  return out;
}

describe("renderFirmware", () => {
  it("covers the four ESP32 boards and ESP-IDF's linux target", () => {
    expect(ESP_BOARDS).toEqual([
      "esp32-c3-devkitm-1",
      "esp32-devkitc",
      "esp32-s3-devkitc-1",
      "idf-linux",
      "m5stack-core2-aws",
    ]);
  });

  describe.each(ESP_BOARDS)("%s", (boardId) => {
    it("writes a complete ESP-IDF project with nothing left unrendered", () => {
      const { dir, files } = render(boardId);
      expect(files).toEqual(walk(dir));
      for (const f of [
        "CMakeLists.txt",
        "sdkconfig.defaults",
        "partitions.csv",
        "main/CMakeLists.txt",
        "main/idf_component.yml",
        "main/Kconfig.projbuild",
        "main/app_main.c",
        "main/app_counter.c",
        `${COMPONENT_DIR}/CMakeLists.txt`,
        `${COMPONENT_DIR}/idf_component.yml`,
        `${COMPONENT_DIR}/Kconfig`,
        `${COMPONENT_DIR}/README.md`,
        `${COMPONENT_DIR}/LICENSE`,
        `${COMPONENT_DIR}/include/provision.h`,
      ])
        expect(files).toContain(f);
      for (const f of files) {
        expect(f.endsWith(".hbs"), f).toBe(false);
        const text = readFileSync(join(dir, f), "utf8");
        // The component is copied as it is (checked byte for byte below); its README shows the CLI's {{thingName}}.
        if (!f.startsWith(`${COMPONENT_DIR}/`))
          expect(text.includes("{{"), `unrendered {{ in ${f}`).toBe(false);
        // noEscape: an HTML entity in C or CMake would break the build.
        expect(/&(quot|amp|lt|gt|#x27|#x3D);/.test(text), `HTML-escaped text in ${f}`).toBe(false);
      }
    });

    it("copies the component as it is, with every core header and source packed into its core/", () => {
      const { dir } = render(boardId);
      const component = join(FIRMWARE_TEMPLATES_DIR_DEFAULT, "esp-idf", COMPONENT_DIR);
      for (const f of walk(component))
        expect(readFileSync(join(dir, COMPONENT_DIR, f)).equals(readFileSync(join(component, f))), f).toBe(
          true,
        );
      const coreFiles = [
        ...walk(join(CORE_DIR, "include")).map((f) => `include/${f}`),
        ...walk(join(CORE_DIR, "src")).map((f) => `src/${f}`),
      ];
      expect(coreFiles.length).toBeGreaterThan(10);
      for (const f of coreFiles) {
        const copied = readFileSync(join(dir, COMPONENT_CORE_DIR, f));
        expect(copied.equals(readFileSync(join(CORE_DIR, f))), f).toBe(true);
      }
      // Tests and fuzzers of the core stay out of the firmware.
      expect(walk(join(dir, COMPONENT_CORE_DIR)).some((f) => /^(test|fuzz)\//.test(f))).toBe(false);
    });

    it("lists every source in the CMake files, and only those", () => {
      const { dir, files } = render(boardId);
      const mainCmake = readFileSync(join(dir, "main/CMakeLists.txt"), "utf8");
      const mainC = files.filter((f) => /^main\/[^/]+\.c$/.test(f)).map((f) => f.slice(5));
      const named = [...mainCmake.matchAll(/\b([\w]+\.c)\b/g)].map((m) => m[1]);
      expect([...new Set(named)].sort()).toEqual(mainC.sort());
      // The component names its own sources (by target and Kconfig) and the core's.
      const componentCmake = readFileSync(join(dir, COMPONENT_DIR, "CMakeLists.txt"), "utf8");
      const own = walk(join(dir, COMPONENT_DIR, "src")).map((f) => `src/${f}`);
      const listed = new Set([...componentCmake.matchAll(/\b(src\/\w+\.c)\b/g)].map((m) => m[1]));
      expect([...listed].sort()).toEqual(own.sort());
      const core = /set\(prov_core_srcs([^)]*)\)/.exec(componentCmake)?.[1]?.trim().split(/\s+/) ?? [];
      expect(core.sort()).toEqual(walk(join(CORE_DIR, "src")).filter((f) => f.endsWith(".c")));
    });

    it("puts the board's facts into sdkconfig.defaults (the component's Kconfig) and partitions.csv", () => {
      const board = getBoard(boardId);
      const { dir } = render(boardId);
      const sdk = readFileSync(join(dir, "sdkconfig.defaults"), "utf8");
      expect(sdk).toContain(`CONFIG_IDF_TARGET="${board.chip}"`);
      // the linux target's flash is a file sized by its partition table (system_linux.c), not a chip's flash size
      expect(sdk.includes(`CONFIG_ESPTOOLPY_FLASHSIZE_${board.flash?.sizeMB}MB=y`)).toBe(
        board.chip !== "linux",
      );
      expect(sdk.includes("CONFIG_ESP_CONSOLE_USB_SERIAL_JTAG=y")).toBe(
        board.console.kind === "usb-serial-jtag",
      );
      expect(sdk.includes("CONFIG_NVS_ENCRYPTION=y")).toBe(board.keyStore.default === "nvs-encrypted");
      const csv = readFileSync(join(dir, "partitions.csv"), "utf8");
      for (const p of board.flash?.partitions ?? [])
        expect(csv).toMatch(new RegExp(`^${p.name}, ${p.type}, ${p.subtype}, .*${p.size}`, "m"));
      expect(sdk).toContain(`CONFIG_PROVISION_BOARD_ID="${board.id}"`);
      expect(sdk).toContain(`CONFIG_PROVISION_CONSOLE_BAUD_RATES="${board.baud.rates.join(",")}"`);
      const store = `CONFIG_PROVISION_KEYSTORE_${board.keyStore.default.toUpperCase().replace(/-/g, "_")}=y`;
      const fragments = sdk + readFileSync(join(dir, "sdkconfig.defaults.v5"), "utf8");
      expect(fragments).toContain(store);
      const manifest = readFileSync(join(dir, "main/idf_component.yml"), "utf8");
      expect(manifest.includes("esp-cryptoauthlib")).toBe(board.keyStore.default === "atecc608");
    });
  });

  it("chooses the board's key store and console through the component's Kconfig", () => {
    const sdk = (board: string) => readFileSync(join(render(board).dir, "sdkconfig.defaults"), "utf8");
    expect(sdk("esp32-s3-devkitc-1")).toContain("CONFIG_PROVISION_KEYSTORE_DS=y");
    expect(sdk("esp32-s3-devkitc-1")).toContain("CONFIG_PROVISION_DS_EFUSE_KEY_BLOCK=3");
    expect(sdk("esp32-s3-devkitc-1")).toContain("CONFIG_PROVISION_CONSOLE_USB_SERIAL_JTAG=y");
    // The DS peripheral is RSA only: the EC key types have no symbol to set.
    expect(sdk("esp32-s3-devkitc-1")).not.toContain("KEY_TYPE_EC_P256");
    expect(sdk("esp32-devkitc")).toContain("CONFIG_PROVISION_KEYSTORE_NVS=y");
    expect(sdk("esp32-c3-devkitm-1")).toMatch(
      /CONFIG_PROVISION_CONSOLE_UART=y\n.*\n.*TX_PIN=21\nCONFIG_PROVISION_CONSOLE_RX_PIN=20/,
    );
    expect(sdk("idf-linux")).toContain("CONFIG_PROVISION_CONSOLE_PTY=y");
    // ESP-IDF v5 only: the ATECC608 store needs esp-cryptoauthlib's settings, in the v5 fragment.
    const v5 = readFileSync(join(render("m5stack-core2-aws").dir, "sdkconfig.defaults.v5"), "utf8");
    expect(v5).toContain("CONFIG_PROVISION_KEYSTORE_ATECC608=y");
    expect(v5).toContain("CONFIG_PROVISION_ATECC608_TRUST_AND_GO=y");
  });

  it("gives ESP-IDF's linux target the host's network in the example; the component picks its own ports", () => {
    expect(render("idf-linux").files).toContain("main/network_host.c");
    expect(render("idf-linux").files).not.toContain("main/network_wifi.c");
    expect(render("esp32-devkitc").files).toContain("main/network_wifi.c");
    const cmake = readFileSync(join(render("idf-linux").dir, COMPONENT_DIR, "CMakeLists.txt"), "utf8");
    expect(cmake).toMatch(
      /if\(prov_target STREQUAL "linux"\)\n.*\n\s+list\(APPEND srcs src\/system_linux\.c/,
    );
  });

  it("renders the M5Stack ATECC608 at 0x35 as cryptoauthlib's 8-bit 0x6A on GPIO21/22 (ESP-IDF v5 only)", () => {
    const { dir } = render("m5stack-core2-aws");
    expect(readFileSync(join(dir, "sdkconfig.defaults.v6"), "utf8")).not.toContain("ATCA");
    const sdk = readFileSync(join(dir, "sdkconfig.defaults.v5"), "utf8");
    expect(sdk).toContain("CONFIG_ATCA_I2C_ADDRESS=0x6A");
    expect(sdk).toContain("CONFIG_ATCA_I2C_SDA_PIN=21");
    expect(sdk).toContain("CONFIG_ATCA_I2C_SCL_PIN=22");
    expect(sdk).toContain("CONFIG_ATECC608A_TNG=y");
  });

  it("uses the HMAC NVS encryption scheme on the C3 and flash encryption when the ESP32 asks for nvs-encrypted", () => {
    const c3 = readFileSync(join(render("esp32-c3-devkitm-1").dir, "sdkconfig.defaults"), "utf8");
    expect(c3).toContain("CONFIG_NVS_SEC_KEY_PROTECT_USING_HMAC=y");
    expect(c3).toContain("CONFIG_NVS_SEC_HMAC_EFUSE_KEY_ID=4");
    const dir = mkdtempSync(join(tmpdir(), "fw-enc-"));
    renderFirmware({ boardId: "esp32-devkitc", outDir: dir, keyStore: "nvs-encrypted" });
    const sdk = readFileSync(join(dir, "sdkconfig.defaults"), "utf8");
    expect(sdk).toContain("CONFIG_NVS_SEC_KEY_PROTECT_USING_FLASH_ENC=y");
    expect(sdk).toContain("CONFIG_PARTITION_TABLE_OFFSET=0xD000");
    expect(readFileSync(join(dir, "partitions.csv"), "utf8")).toMatch(
      /^nvs_keys, data, nvs_keys, .*encrypted$/m,
    );
  });

  it("refuses a key store the board does not have", () => {
    const e = thrown(() =>
      renderFirmware({
        boardId: "esp32-devkitc",
        outDir: mkdtempSync(join(tmpdir(), "fw-")),
        keyStore: "ds",
      }),
    );
    expect(e.code).toBe("USAGE");
    expect(e.message).toContain("nvs, nvs-encrypted");
  });

  it("refuses the host twin, which is not an ESP-IDF board", () => {
    const e = thrown(() => renderFirmware({ boardId: "twin", outDir: mkdtempSync(join(tmpdir(), "fw-")) }));
    expect(e.code).toBe("USAGE");
    expect(e.message).toContain("twin");
  });

  it("names the known boards for an unknown one", () => {
    const e = thrown(() =>
      renderFirmware({ boardId: "esp8266", outDir: mkdtempSync(join(tmpdir(), "fw-")) }),
    );
    expect(e.code).toBe("UNKNOWN_BOARD");
    expect(e.message).toContain("esp32-devkitc");
  });

  it("does not write into a non-empty directory unless asked", () => {
    const dir = mkdtempSync(join(tmpdir(), "fw-"));
    writeFileSync(join(dir, "keep.txt"), "mine");
    expect(thrown(() => renderFirmware({ boardId: "esp32-devkitc", outDir: dir })).code).toBe("USAGE");
    const { files } = renderFirmware({ boardId: "esp32-devkitc", outDir: dir, overwrite: true });
    expect(files).toContain("main/app_main.c");
    expect(readFileSync(join(dir, "keep.txt"), "utf8")).toBe("mine");
  });
});
