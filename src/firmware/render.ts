/**
 * Renders a complete ESP-IDF project for one board, one project for both
 * supported major versions (v5.2-v5.5 and v6.0: the project's CMakeLists.txt
 * picks the version's sdkconfig fragment and refuses others at configure time).
 *
 * The project is the counter example: its main/ is a product of the provision
 * component, which is copied as it is into components/provision/ with the
 * portable core (firmware-templates/core/include and src) packed byte for
 * byte into its core/. Only what varies per board is a template (`*.hbs`
 * under firmware-templates/esp-idf/: build files, sdkconfig.defaults with the
 * component's Kconfig values, the partition table, main's manifest).
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, relative, sep } from "node:path";
import { fileURLToPath } from "node:url";
import Handlebars from "handlebars";
import { type Board, getBoard, type KeyStoreKind, type KeyType } from "../boards/index.js";
import { ProvisionError } from "../errors.js";
import { handlebarsErrorText } from "../handlebars-errors.js";
import { PACKAGE_ROOT } from "../package-root.js";
import { KEY_TYPE_NAME_LIST } from "../protocol/constants.js";
import { checkIdfVersion, type IdfVersion } from "./idf.js";

export const FIRMWARE_TEMPLATES_DIR_DEFAULT = join(PACKAGE_ROOT, "firmware-templates");
/**
 * This renderer's own file, for build caches that must notice when it
 * changes: src/firmware/render.ts in a clone (whether the tool runs from src/
 * or dist/, so both share one cache), the compiled dist/firmware/render.js in
 * an installed package, which ships no src/.
 */
export const RENDERER_SOURCE = [
  join(PACKAGE_ROOT, "src", "firmware", "render.ts"),
  fileURLToPath(import.meta.url),
].find((f) => existsSync(f)) as string;

/** What each compiled key store can make (the DS peripheral is RSA only, the ATECC608 P-256 only). */
const STORE_KEY_TYPES: Record<KeyStoreKind, readonly KeyType[]> = {
  nvs: KEY_TYPE_NAME_LIST,
  "nvs-encrypted": KEY_TYPE_NAME_LIST,
  ds: ["rsa-2048", "rsa-3072"],
  atecc608: ["ec-p256"],
  file: KEY_TYPE_NAME_LIST,
};

/**
 * Files copied only when the build needs them; every other file is always
 * copied. The component selects its own sources by target and Kconfig; the
 * example's network is the host's on the linux target, Wi-Fi on a chip.
 */
const CONDITIONAL_FILES: Record<string, (c: RenderContext) => boolean> = {
  "main/network_wifi.c": (c) => !c.linux,
  "main/network_host.c": (c) => c.linux,
};

/** Where the component sits in a rendered project, and where the core goes inside it. */
export const COMPONENT_DIR = "components/provision";
export const COMPONENT_CORE_DIR = `${COMPONENT_DIR}/core`;

/** The sdkconfig fragments ESP-IDF reads for this version, in order (the project's CMakeLists.txt picks the same). */
export function sdkconfigDefaultsFiles(version: IdfVersion): string[] {
  return ["sdkconfig.defaults", version.major >= 6 ? "sdkconfig.defaults.v6" : "sdkconfig.defaults.v5"];
}

/**
 * Key stores that cannot be built on an ESP-IDF version, and why. The
 * project's CMakeLists.txt refuses the same at configure time, for a render
 * made without knowing the version.
 */
export function keyStoreRefusal(store: KeyStoreKind, version: IdfVersion | undefined): string {
  if (store === "atecc608" && version && version.major >= 6)
    return "esp-cryptoauthlib (3.7.x) is written for Mbed TLS 3, and ESP-IDF v6 ships Mbed TLS 4; build the ATECC608 store with ESP-IDF v5.2-v5.5";
  return "";
}

export interface RenderFirmwareOptions {
  boardId: string;
  outDir: string;
  /** Write into a non-empty directory, replacing files with the same names. */
  overwrite?: boolean;
  /** Key store to build for (default: the board's default); must be in the board's supported list. */
  keyStore?: KeyStoreKind;
  boardsDir?: string;
  templatesDir?: string;
  /** Shown in HELLO as the firmware version. */
  firmwareVersion?: string;
  /** The ESP-IDF the project will be built with, when known: refuses what that version cannot build. */
  idfVersion?: IdfVersion;
  /** Leave files whose content is already right untouched, so that an incremental build stays incremental. */
  writeOnlyChanged?: boolean;
}

export interface RenderFirmwareResult {
  board: Board;
  outDir: string;
  /** Every rendered file, relative to outDir, with `/` separators, sorted. */
  files: string[];
  /** The files whose content changed (all of them unless `writeOnlyChanged`). */
  changed: string[];
}

/** The values every template sees; exported so tests can check one template against its inputs. */
export interface RenderContext {
  board: Board;
  boardJson: string;
  idfTarget: string;
  firmwareVersion: string;
  flashSize: string;
  partitionTableOffset: string;
  partitions: { name: string; type: string; subtype: string; offset: string; size: string; flags: string }[];
  console: {
    uart: boolean;
    usbSerialJtag: boolean;
    pty: boolean;
    uartNum: number;
    txPin: number;
    rxPin: number;
  };
  /** ESP-IDF's linux target (the idf-linux device): the port runs on this host. */
  linux: boolean;
  baudDefault: number;
  /** CONFIG_PROVISION_CONSOLE_BAUD_RATES: "115200,230400,..." */
  baudRates: string;
  /** The key store compiled in (one per build: the core drives one store), as its Kconfig choice names it. */
  stores: { nvs: boolean; nvsEncrypted: boolean; nvsAny: boolean; ds: boolean; atecc608: boolean };
  selectedStore: KeyStoreKind;
  storeMacro: string;
  /** CONFIG_PROVISION_KEY_TYPE_* lines for the types this store can make: on when the board allows them. */
  keyTypeLines: string[];
  nvsEncryption: { enabled: boolean; hmac: boolean; flashEncryption: boolean; efuseKeyBlock: number };
  ds: { efuseKeyBlock: number } | undefined;
  atecc:
    | {
        i2cPort: number;
        sdaPin: number;
        sclPin: number;
        address8bit: string;
        slot: number;
        tng: boolean;
        variantConfig: string;
      }
    | undefined;
  wifi: boolean;
}

const ATECC_VARIANT_KCONFIG = {
  "trust-and-go": "CONFIG_ATECC608A_TNG",
  trustflex: "CONFIG_ATECC608A_TFLEX",
  trustcustom: "CONFIG_ATECC608A_TCUSTOM",
} as const;

function hex(n: number): string {
  return `0x${n.toString(16).toUpperCase()}`;
}

export function renderContext(
  board: Board,
  opts: Pick<RenderFirmwareOptions, "keyStore" | "firmwareVersion" | "idfVersion"> = {},
) {
  if (board.chip === "host" || !board.flash) {
    throw new ProvisionError("USAGE", `board "${board.id}" is the host twin, not an ESP-IDF board`, {
      where: "--board",
      hint: "build the twin with `provision firmware build --board twin`; render an ESP32 board instead",
    });
  }
  const selected = opts.keyStore ?? board.keyStore.default;
  if (!board.keyStore.supported.includes(selected)) {
    throw new ProvisionError(
      "USAGE",
      `board "${board.id}" has no key store "${selected}"; it supports ${board.keyStore.supported.join(", ")}`,
      { where: "--key-store" },
    );
  }
  const refusal = keyStoreRefusal(selected, opts.idfVersion);
  if (refusal)
    throw new ProvisionError(
      "USAGE",
      `the ${selected} key store cannot be built with ESP-IDF v${opts.idfVersion?.text}: ${refusal}`,
      {
        where: "--key-store",
        hint: `pick another store of ${board.id}: ${board.keyStore.supported.filter((k) => k !== selected).join(", ") || "none"}`,
      },
    );
  // The core drives exactly one key store per build (prov_device_config_t.keystore).
  const kinds: KeyStoreKind[] = [selected];
  const enc = board.nvsEncryption;
  const encryptionOn = selected === "nvs-encrypted";
  const flashEncryption = encryptionOn && enc?.scheme === "flash-encryption";
  const macroOf = (k: string) => k.toUpperCase().replace(/-/g, "_");
  // Only the types the store can make have a visible Kconfig symbol; the board switches each on or off.
  const keyTypeLines = STORE_KEY_TYPES[selected].map((t) =>
    board.keyTypes.supported.includes(t)
      ? `CONFIG_PROVISION_KEY_TYPE_${macroOf(t)}=y`
      : `# CONFIG_PROVISION_KEY_TYPE_${macroOf(t)} is not set`,
  );
  const se = board.secureElement;
  const ctx: RenderContext = {
    board,
    boardJson: JSON.stringify(board),
    idfTarget: board.chip,
    firmwareVersion: opts.firmwareVersion ?? "0.1.0",
    flashSize: `${board.flash.sizeMB}MB`,
    // Flash encryption makes the bootloader larger than the 0x7000 bytes below the default 0x8000.
    partitionTableOffset: flashEncryption ? "0xD000" : "0x8000",
    partitions: board.flash.partitions.map((p) => ({
      name: p.name,
      type: p.type,
      subtype: p.subtype,
      offset: p.offset ?? "",
      size: p.size,
      flags: p.encrypted ? "encrypted" : "",
    })),
    console: {
      uart: board.console.kind === "uart",
      usbSerialJtag: board.console.kind === "usb-serial-jtag",
      pty: board.console.kind === "pty",
      uartNum: board.console.uartNum,
      txPin: board.console.txPin ?? -1,
      rxPin: board.console.rxPin ?? -1,
    },
    baudDefault: board.baud.default,
    baudRates: board.baud.rates.join(","),
    stores: {
      nvs: kinds.includes("nvs"),
      nvsEncrypted: kinds.includes("nvs-encrypted"),
      nvsAny: kinds.includes("nvs") || kinds.includes("nvs-encrypted"),
      ds: kinds.includes("ds"),
      atecc608: kinds.includes("atecc608"),
    },
    selectedStore: selected,
    storeMacro: macroOf(selected),
    keyTypeLines,
    nvsEncryption: {
      enabled: encryptionOn,
      hmac: encryptionOn && enc?.scheme === "hmac",
      flashEncryption,
      efuseKeyBlock: enc?.efuseKeyBlock ?? -1,
    },
    ds: kinds.includes("ds") && board.ds ? { efuseKeyBlock: board.ds.efuseKeyBlock } : undefined,
    atecc:
      kinds.includes("atecc608") && se
        ? {
            i2cPort: se.i2cPort,
            sdaPin: se.sdaPin,
            sclPin: se.sclPin,
            address8bit: hex(se.address << 1),
            slot: se.slot,
            tng: se.variant === "trust-and-go",
            variantConfig: ATECC_VARIANT_KCONFIG[se.variant],
          }
        : undefined,
    wifi: board.wifi,
    linux: board.chip === "linux",
  };
  return ctx;
}

/** Every file under dir, relative, `/`-separated, sorted. */
function listFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const full = join(d, name);
      if (statSync(full).isDirectory()) walk(full);
      else out.push(relative(dir, full).split(sep).join("/"));
    }
  };
  if (existsSync(dir)) walk(dir);
  return out.sort();
}

/** Writes one rendered file; returns false when `onlyChanged` found it already right. */
function writeOut(outDir: string, rel: string, content: Buffer, onlyChanged: boolean): boolean {
  const file = join(outDir, ...rel.split("/"));
  try {
    if (onlyChanged && existsSync(file) && readFileSync(file).equals(content)) return false;
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, content);
    return true;
  } catch (e) {
    // EACCES, ENOTDIR, ENOSPC: the user's --out, not a bug of the tool.
    throw new ProvisionError("CONFIG", `cannot write the rendered project: ${(e as Error).message}`, {
      where: file,
      hint: "give --out a writable directory (new or empty)",
      cause: e,
    });
  }
}

export function renderFirmware(opts: RenderFirmwareOptions): RenderFirmwareResult {
  const board = getBoard(opts.boardId, opts.boardsDir);
  if (opts.idfVersion) checkIdfVersion(opts.idfVersion, "ESP-IDF");
  const ctx = renderContext(board, opts);
  const templatesDir = opts.templatesDir ?? FIRMWARE_TEMPLATES_DIR_DEFAULT;
  const espDir = join(templatesDir, "esp-idf");
  const coreDir = join(templatesDir, "core");

  const coreFiles = [
    ...listFiles(join(coreDir, "include")).map((f) => `include/${f}`),
    ...listFiles(join(coreDir, "src")).map((f) => `src/${f}`),
  ];
  if (!coreFiles.some((f) => f.startsWith("src/") && f.endsWith(".c"))) {
    throw new ProvisionError("CONFIG", "the portable core has no C sources to copy", {
      where: join(coreDir, "src"),
      hint: "run from a complete checkout of the provision repository",
    });
  }

  if (existsSync(opts.outDir) && !statSync(opts.outDir).isDirectory()) {
    throw new ProvisionError("USAGE", "the output path exists and is not a directory", {
      where: opts.outDir,
      hint: "choose a new or empty directory for --out",
    });
  }
  if (
    existsSync(opts.outDir) &&
    readdirSync(opts.outDir).length > 0 &&
    !opts.overwrite &&
    !opts.writeOnlyChanged
  ) {
    throw new ProvisionError("USAGE", "the output directory is not empty", {
      where: opts.outDir,
      hint: "choose an empty or new directory, or pass --overwrite to replace the rendered files",
    });
  }

  const onlyChanged = opts.writeOnlyChanged ?? false;
  const selected = listFiles(espDir).filter((rel) => CONDITIONAL_FILES[rel]?.(ctx) ?? true);

  const files: string[] = [];
  const changed: string[] = [];
  const emit = (rel: string, content: Buffer) => {
    if (writeOut(opts.outDir, rel, content, onlyChanged)) changed.push(rel);
    files.push(rel);
  };
  for (const rel of selected) {
    if (rel.endsWith(".hbs")) {
      const target = rel.slice(0, -".hbs".length);
      // noEscape: C, CMake and CSV must not be HTML-escaped; strict: a typo in a template fails loudly.
      const template = Handlebars.compile(readFileSync(join(espDir, rel), "utf8"), {
        noEscape: true,
        strict: true,
      });
      let text: string;
      try {
        text = template(ctx);
      } catch (e) {
        throw new ProvisionError("INTERNAL", `template failed: ${handlebarsErrorText(e)}`, {
          where: join(espDir, rel),
          cause: e,
        });
      }
      emit(target, Buffer.from(text));
    } else {
      emit(rel, readFileSync(join(espDir, rel)));
    }
  }
  for (const rel of coreFiles)
    emit(`${COMPONENT_CORE_DIR}/${rel}`, readFileSync(join(coreDir, ...rel.split("/"))));
  return { board, outDir: opts.outDir, files: files.sort(), changed: changed.sort() };
}
