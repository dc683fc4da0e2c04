/**
 * Renders a complete ESP-IDF project for one board, one project for both
 * supported major versions (v5.2-v5.5 and v6.0: the project's CMakeLists.txt
 * picks the version's sdkconfig fragment and refuses others at configure time).
 *
 * Only what varies per board is a template (`*.hbs` under
 * firmware-templates/esp-idf/: build files, sdkconfig.defaults, the
 * partition table, board_config.h); the port's C sources are copied as they
 * are, and the portable core (firmware-templates/core/include and src) is
 * copied byte for byte into components/prov_core/.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, relative, sep } from "node:path";
import { fileURLToPath } from "node:url";
import Handlebars from "handlebars";
import { type Board, getBoard, type KeyStoreKind, type KeyType } from "../boards/index.js";
import { ProvisionError } from "../errors.js";
import { handlebarsErrorText } from "../handlebars-errors.js";
import { KEY_STORE_NAMES, KEY_TYPE_NAME_LIST, KEY_TYPE_NAMES } from "../protocol/constants.js";
import { checkIdfVersion, type IdfVersion } from "./idf.js";

export const FIRMWARE_TEMPLATES_DIR_DEFAULT = fileURLToPath(
  new URL("../../firmware-templates/", import.meta.url),
);

/** What each compiled key store can make (the DS peripheral is RSA only, the ATECC608 P-256 only). */
const STORE_KEY_TYPES: Record<KeyStoreKind, readonly KeyType[]> = {
  nvs: KEY_TYPE_NAME_LIST,
  "nvs-encrypted": KEY_TYPE_NAME_LIST,
  ds: ["rsa-2048", "rsa-3072"],
  atecc608: ["ec-p256"],
  file: KEY_TYPE_NAME_LIST,
};

/**
 * Port sources copied only when the build needs them; every other file is
 * always copied. The linux target gets small ports of ours for what it lacks
 * (a pty instead of a UART, no eFuse MAC, no Wi-Fi, no esp_timer, no
 * bootloader entropy source), beside the chip versions they replace.
 */
const CONDITIONAL_FILES: Record<string, (c: RenderContext) => boolean> = {
  "main/keystore_nvs.c": (c) => c.stores.nvsAny,
  "main/keystore_ds.c": (c) => c.stores.ds,
  "main/keystore_atecc608.c": (c) => c.stores.atecc608,
  "main/ds_params.c": (c) => c.stores.ds,
  "main/ds_params.h": (c) => c.stores.ds,
  // The two-record slot map shared by the NVS and DS stores.
  "main/keystore_slots.c": (c) => c.stores.nvsAny || c.stores.ds,
  "main/keystore_slots.h": (c) => c.stores.nvsAny || c.stores.ds,
  "main/transport_uart.c": (c) => c.console.uart,
  "main/transport_usb_serial_jtag.c": (c) => c.console.usbSerialJtag,
  "main/transport_pty.c": (c) => c.console.pty,
  "main/system_chip.c": (c) => !c.linux,
  "main/entropy_esp.c": (c) => !c.linux,
  "main/network_wifi.c": (c) => !c.linux,
  "main/system_linux.c": (c) => c.linux,
  "main/system_linux.h": (c) => c.linux,
  "main/entropy_linux.c": (c) => c.linux,
  "main/network_host.c": (c) => c.linux,
  "main/esp_timer_linux.c": (c) => c.linux,
};

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

export const PUBLISH_INTERVAL_MS_DEFAULT = 5000;

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
  baudList: string;
  baudCount: number;
  /** The key store compiled in (one per build: the core drives one store). */
  storeList: { kind: KeyStoreKind; macro: string; wire: number; keyTypes: string }[];
  stores: { nvs: boolean; nvsEncrypted: boolean; nvsAny: boolean; ds: boolean; atecc608: boolean };
  selectedStore: KeyStoreKind;
  selectedStoreWire: number;
  defaultKeyTypeWire: number;
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
  publishIntervalMsDefault: number;
  coreSources: string[];
  /** main/*.c of this build, for main/CMakeLists.txt. */
  mainSources: string[];
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
  const macroOf = (k: KeyStoreKind) => k.toUpperCase().replace(/-/g, "_");
  const storeList = kinds.map((kind) => ({
    kind,
    macro: macroOf(kind),
    wire: KEY_STORE_NAMES[kind],
    keyTypes: STORE_KEY_TYPES[kind]
      .filter((t) => board.keyTypes.supported.includes(t))
      .map((t) => KEY_TYPE_NAMES[t])
      .join(", "),
  }));
  const se = board.secureElement;
  const defaultKeyType = STORE_KEY_TYPES[selected].includes(board.keyTypes.default)
    ? board.keyTypes.default
    : (STORE_KEY_TYPES[selected].find((t) => board.keyTypes.supported.includes(t)) ?? board.keyTypes.default);
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
    baudList: board.baud.rates.map((b) => `${b}u`).join(", "),
    baudCount: board.baud.rates.length,
    storeList,
    stores: {
      nvs: kinds.includes("nvs"),
      nvsEncrypted: kinds.includes("nvs-encrypted"),
      nvsAny: kinds.includes("nvs") || kinds.includes("nvs-encrypted"),
      ds: kinds.includes("ds"),
      atecc608: kinds.includes("atecc608"),
    },
    selectedStore: selected,
    selectedStoreWire: KEY_STORE_NAMES[selected],
    defaultKeyTypeWire: KEY_TYPE_NAMES[defaultKeyType],
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
    publishIntervalMsDefault: PUBLISH_INTERVAL_MS_DEFAULT,
    coreSources: [],
    mainSources: [],
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
  ctx.coreSources = coreFiles.filter((f) => f.startsWith("src/") && f.endsWith(".c"));

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
  ctx.mainSources = selected.filter((f) => /^main\/[^/]+\.c$/.test(f)).map((f) => f.slice("main/".length));

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
    emit(`components/prov_core/${rel}`, readFileSync(join(coreDir, ...rel.split("/"))));
  return { board, outDir: opts.outDir, files: files.sort(), changed: changed.sort() };
}
