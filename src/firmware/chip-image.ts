/**
 * Whole chip images (second-stage bootloader, partition table, app) for a
 * chip board: `provision firmware build --board esp32-c3-devkitm-1`.
 *
 * The same rendered project as a user's `idf.py build`, configured and built
 * the way idf.py does (cmake -G Ninja, then ninja). Two toolchains:
 * - a real ESP-IDF installation (IDF_PATH, Espressif's toolchain on PATH):
 *   cmake + ninja with ESP-IDF's full component list, nothing else;
 * - the ESP-IDF kit (no Espressif toolchain here): the emulated-chip kit's
 *   overlay links with Debian's RISC-V GCC and picolibc and stubs the closed
 *   Wi-Fi libraries (chip-kit.ts; the differences are in docs/firmware.md).
 *
 * Cached like the idf-linux device (build-cache.ts) in
 * build/chip-image/<board>/<key store>/v<idf>/.
 */
import { existsSync, readFileSync, statSync } from "node:fs";
import { basename, join, resolve } from "node:path";
import { getBoard, type KeyStoreKind } from "../boards/index.js";
import { ProvisionError } from "../errors.js";
import {
  buildRootFor,
  cachedBuild,
  componentInputs,
  filesUnder,
  inputsHash,
  needsNewSdkconfig,
  renderedInputs,
  sdkconfigMade,
  staleSdkconfig,
} from "./build-cache.js";
import { runTool } from "./build-tools.js";
import { type ChipKit, ensureChipKit } from "./chip-kit.js";
import { localComponents } from "./component-manifest.js";
import { FLASHER_ARGS_FILE, type FlasherArgs, type FlashRegion, parseFlasherArgs } from "./flasher-args.js";
import {
  buildIdfProject,
  configureIdfProject,
  ensureKit,
  type Idf,
  type ResolveIdfOptions,
  resolveIdf,
} from "./idf.js";
import { mergeRegions } from "./merge-image.js";
import { isApp, isNvs, type Partition, parsePartitionTable } from "./partition-table.js";
import { renderFirmware, sdkconfigDefaultsFiles } from "./render.js";

/** Chips the kit's overlay can link; a real ESP-IDF installation builds any chip board. */
export const KIT_LINKABLE_CHIPS = ["esp32c3"] as const;
/** Warn when the app fills more than this share of its partition. */
export const APP_FILL_WARN = 0.9;
/** The ESP-IDF kit whose esptool the v6 kit borrows (the v6 kit ships none). */
const ESPTOOL_KIT = "5.5.5";

export interface ImageFile {
  role: FlashRegion["role"];
  file: string;
  offset: number;
  size: number;
}

export interface PartitionUse {
  label: string;
  offset: number;
  size: number;
  /** For the app partition: the app image's size and its share of the partition. */
  used?: number;
  fill?: number;
}

export interface ChipImage {
  /** The board id, or the project's folder name. */
  name: string;
  /** A board's build: its id and key store. */
  board?: string;
  keyStore?: KeyStoreKind;
  chip: string;
  idfVersion: string;
  /** "kit": the ESP-IDF kit + the emulated-chip kit's overlay; "esp-idf": a real installation. */
  toolchain: "kit" | "esp-idf";
  /** The folder holding flasher_args.json (what `provision flash --image` takes). */
  buildDir: string;
  flasherArgs: FlasherArgs;
  images: ImageFile[];
  partitions: PartitionUse[];
  /** The NVS partition that holds the key and credentials. */
  nvs: { offset: number; size: number } | undefined;
  /** All images merged into one flash-sized file (0xFF elsewhere): the emulated chip's flash at first boot. */
  merged: string;
  warnings: string[];
  built: boolean;
  ms: number;
}

export interface ChipImageOptions extends ResolveIdfOptions {
  board: string;
  keyStore?: KeyStoreKind;
  onProgress?: (text: string) => void;
}

function failed(step: string, what: string, idf: Idf, output: string, where: string): ProvisionError {
  return new ProvisionError("CONFIG", `building ${what} failed at ${step} (ESP-IDF v${idf.version.text})`, {
    where,
    hint: idf.kitDir
      ? "needs cmake, ninja-build, gcc-riscv64-unknown-elf, picolibc-riscv64-unknown-elf and the python3 modules the kits' README lists; see the output below"
      : "run ESP-IDF's export.sh (Espressif's toolchain on PATH); see the output below",
    deviceLog: output.trim().split("\n").slice(-15),
  });
}

/** The environment for a kit build: the overlay's toolchain first, an esptool for the v6 kit. */
async function kitBuildEnv(
  idf: Idf,
  kit: ChipKit,
  onProgress?: (t: string) => void,
): Promise<NodeJS.ProcessEnv> {
  const pythonPath = (idf.env.PYTHONPATH ?? "").split(":").filter(Boolean);
  if (!pythonPath.some((p) => basename(p) === "esptool")) {
    const esptoolKit = await ensureKit(ESPTOOL_KIT, { env: idf.env, onProgress });
    pythonPath.push(join(esptoolKit, "python", "esptool"));
  }
  return {
    ...idf.env,
    PATH: `${kit.toolchainBin}:${idf.env.PATH ?? ""}`,
    PYTHONPATH: pythonPath.join(":"),
    PYTHON: "/usr/bin/python3",
  };
}

/** One chip build: where it goes, what it is made from. */
interface ChipBuildSpec {
  /** For messages: "the esp32-c3-devkitm-1 image (nvs)", "the project thermo-product". */
  what: string;
  root: string;
  projectDir: string;
  target: string;
  /** The project's sdkconfig fragments (absolute), in ESP-IDF's order; the kit's follow them. */
  fragments: string[];
  inputs: string[];
  /** Whatever else the stamp covers. */
  stampText: string;
  /** Writes the project (a render); true when its sdkconfig must be made anew. */
  prepare?: () => boolean;
  /** The board file to name in a hint for an app that does not fit. */
  boardId?: string;
}

async function kitFor(
  idf: Idf,
  target: string,
  onProgress?: (t: string) => void,
): Promise<ChipKit | undefined> {
  if (idf.kitDir === undefined) return undefined;
  if (!(KIT_LINKABLE_CHIPS as readonly string[]).includes(target))
    throw new ProvisionError(
      "CONFIG",
      `the ESP-IDF kit links whole images for ${KIT_LINKABLE_CHIPS.join(", ")} only, not ${target}`,
      {
        where: target,
        hint: "install ESP-IDF with Espressif's toolchain and run its export.sh (IDF_PATH), or compile-check the port with scripts/idf-check.ts",
      },
    );
  return ensureChipKit({ env: idf.env, onProgress });
}

/** Builds the spec's project into images (or finds them built); returns whether it built. */
async function buildChip(
  spec: ChipBuildSpec,
  idf: Idf,
  kit: ChipKit | undefined,
  onProgress?: (t: string) => void,
): Promise<boolean> {
  const { root, projectDir } = spec;
  const buildDir = join(root, "build");
  const merged = join(root, "flash.bin");
  const flasherArgsFile = join(buildDir, FLASHER_ARGS_FILE);
  const kitFiles = kit ? [kit.sdkconfigChip, kit.sdkconfigChipV6, kit.linkScript] : [];
  const fail = (step: string, output: string, where: string) => failed(step, spec.what, idf, output, where);
  return cachedBuild({
    root,
    what: `${spec.what} build`,
    hash: () => inputsHash(idf, [...spec.inputs, ...kitFiles], `${spec.stampText}\0${kit !== undefined}`),
    outputsExist: () => existsSync(merged) && existsSync(flasherArgsFile),
    result: (b) => b,
    build: async () => {
      onProgress?.(
        `building ${spec.what} with ESP-IDF v${idf.version.text}${kit ? " and the emulated-chip kit's linker overlay" : ""} in ${root} (a clean build takes about a minute)`,
      );
      const prepared = spec.prepare?.() ?? false;
      const kitDefaults = kit
        ? [kit.sdkconfigChip, ...(idf.version.major >= 6 ? [kit.sdkconfigChipV6] : [])]
        : [];
      const sdkInputs = staleSdkconfig(projectDir, buildDir, kitDefaults, prepared);
      const env = kit ? await kitBuildEnv(idf, kit, onProgress) : idf.env;
      const buildIdf = { ...idf, env };
      if (!existsSync(join(buildDir, "build.ninja")) || !existsSync(join(buildDir, "sdkconfig"))) {
        const c = await configureIdfProject({
          idf: buildIdf,
          projectDir,
          buildDir,
          target: spec.target,
          allComponents: !kit,
          extraArgs: [`-DSDKCONFIG_DEFAULTS=${[...spec.fragments, ...kitDefaults].join(";")}`],
        });
        if (!c.ok) throw fail("configure (cmake)", c.output, projectDir);
        sdkconfigMade(buildDir, sdkInputs);
      }
      if (kit) {
        // The kit's script: ninja, the app's link with the Wi-Fi stand-ins, elf2image, merge.
        const r = await runTool("sh", [kit.linkScript, buildDir, merged], { env });
        if (r.code !== 0) {
          const ninjaLog = join(buildDir, "ninja-k0.log");
          const log = existsSync(ninjaLog) ? readFileSync(ninjaLog, "utf8") : "";
          throw fail("link (the kit's link-image.sh)", `${log}\n${r.output}`, buildDir);
        }
      } else {
        const b = await buildIdfProject({ idf: buildIdf, buildDir });
        if (!b.ok) throw fail("build (ninja)", b.output, buildDir);
      }
      if (!existsSync(flasherArgsFile)) throw fail("build", `no ${FLASHER_ARGS_FILE}`, buildDir);
      if (!kit) mergeRegions(parseFlasherArgs(readFileSync(flasherArgsFile, "utf8"), buildDir), merged);
    },
  });
}

/** Builds (or finds built) the images of `opts.board` with `opts.keyStore` on the ESP-IDF `opts` selects. */
export async function ensureChipImageBuilt(opts: ChipImageOptions): Promise<ChipImage> {
  const started = Date.now();
  const board = getBoard(opts.board);
  if (board.chip === "host" || board.chip === "linux")
    throw new ProvisionError("USAGE", `${board.id} runs on this host: it has no chip image`, {
      hint: `provision firmware build --board ${board.id} builds it`,
    });
  const keyStore = opts.keyStore ?? board.keyStore.default;
  const idf = await resolveIdf(opts);
  const kit = await kitFor(idf, board.chip, opts.onProgress);
  const root = buildRootFor(["chip-image", board.id, keyStore], idf);
  const projectDir = join(root, "project");
  const built = await buildChip(
    {
      what: `the ${board.id} image (${keyStore})`,
      root,
      projectDir,
      target: board.chip,
      fragments: sdkconfigDefaultsFiles(idf.version).map((f) => join(projectDir, f)),
      inputs: renderedInputs(board.id),
      stampText: keyStore,
      prepare: () =>
        renderFirmware({
          boardId: board.id,
          outDir: projectDir,
          keyStore,
          idfVersion: idf.version,
          writeOnlyChanged: true,
        }).changed.some(needsNewSdkconfig),
      boardId: board.id,
    },
    idf,
    kit,
    opts.onProgress,
  );
  return describe({
    name: board.id,
    board: board.id,
    keyStore,
    chip: board.chip,
    idf,
    kit,
    root,
    built,
    ms: Date.now() - started,
  });
}

export interface ChipProjectOptions extends ResolveIdfOptions {
  /** An ESP-IDF project (a product) that adds the provision component by its manifest. */
  projectDir: string;
  /** The chip to build for (ESP-IDF's IDF_TARGET). */
  target: string;
  /** sdkconfig fragments, relative to the project, in ESP-IDF's order (default: its sdkconfig.defaults). */
  sdkconfigDefaults?: string[];
  /** Names the build folder, so that two fragment sets of one project build side by side. */
  variant?: string;
  onProgress?: (text: string) => void;
}

/** Builds a product's whole images for a chip (or finds them built), the same way as a board's. */
export async function ensureChipProjectBuilt(opts: ChipProjectOptions): Promise<ChipImage> {
  const started = Date.now();
  const idf = await resolveIdf(opts);
  const kit = await kitFor(idf, opts.target, opts.onProgress);
  const projectDir = resolve(opts.projectDir);
  const name = basename(projectDir);
  const root = buildRootFor(
    ["chip-image", "projects", opts.target, opts.variant ? `${name}-${opts.variant}` : name],
    idf,
  );
  const fragments = (opts.sdkconfigDefaults ?? ["sdkconfig.defaults"]).map((f) => join(projectDir, f));
  const local = localComponents(projectDir, { idfVersion: idf.version, target: opts.target }, idf.env);
  const built = await buildChip(
    {
      what: `the project ${name} for ${opts.target}`,
      root,
      projectDir,
      target: opts.target,
      fragments,
      inputs: [...filesUnder(projectDir), ...componentInputs(), ...local.flatMap((c) => filesUnder(c.dir))],
      stampText: fragments.join(";"),
      // A changed input may be a fragment: the sdkconfig is made anew whenever the stamp is stale.
      prepare: () => true,
    },
    idf,
    kit,
    opts.onProgress,
  );
  return describe({ name, chip: opts.target, idf, kit, root, built, ms: Date.now() - started });
}

/** What a build left: images, partitions and how full they are; throws when the app does not fit. */
function describe(b: {
  name: string;
  board?: string;
  keyStore?: KeyStoreKind;
  chip: string;
  idf: Idf;
  kit: ChipKit | undefined;
  root: string;
  built: boolean;
  ms: number;
}): ChipImage {
  const buildDir = join(b.root, "build");
  const flasherArgs = parseFlasherArgs(readFileSync(join(buildDir, FLASHER_ARGS_FILE), "utf8"), buildDir);
  const images = flasherArgs.regions.map((r) => ({ ...r, size: statSync(r.file).size }));
  const table = images.find((i) => i.role === "partition-table");
  const partitions: Partition[] = table ? parsePartitionTable(readFileSync(table.file)) : [];
  const app = images.find((i) => i.role === "app");
  const warnings: string[] = [];
  const uses = partitions.map((p): PartitionUse => {
    if (!app || !isApp(p) || p.offset !== app.offset)
      return { label: p.label, offset: p.offset, size: p.size };
    const fill = app.size / p.size;
    if (fill > 1)
      throw new ProvisionError(
        "CONFIG",
        `the app (${app.size} bytes) does not fit its partition "${p.label}" (${p.size} bytes)`,
        {
          where: app.file,
          hint: b.board
            ? `make the partition larger in boards/${b.board}.json (flash.partitions) or the app smaller`
            : "make the app partition larger in the project's partition table, or the app smaller",
        },
      );
    if (fill > APP_FILL_WARN)
      warnings.push(
        `the app fills ${(fill * 100).toFixed(1)} % of its partition "${p.label}": little room for a larger version`,
      );
    return { label: p.label, offset: p.offset, size: p.size, used: app.size, fill };
  });
  const nvs = partitions.find(isNvs);
  return {
    name: b.name,
    ...(b.board ? { board: b.board } : {}),
    ...(b.keyStore ? { keyStore: b.keyStore } : {}),
    chip: b.chip,
    idfVersion: b.idf.version.text,
    toolchain: b.kit ? "kit" : "esp-idf",
    buildDir,
    flasherArgs,
    images,
    partitions: uses,
    nvs: nvs ? { offset: nvs.offset, size: nvs.size } : undefined,
    merged: join(b.root, "flash.bin"),
    warnings,
    built: b.built,
    ms: b.ms,
  };
}
