import type { KeyStoreKind } from "../boards/index.js";
import { getBoard } from "../boards/index.js";
import { ProvisionError } from "../errors.js";
import { type ChipImage, ensureChipImageBuilt } from "../firmware/chip-image.js";
import { checkIdfVersion, idfSelection, readIdfVersion } from "../firmware/idf.js";
import { ensureIdfLinuxBuilt, IDF_LINUX_BOARD } from "../firmware/idf-linux.js";
import { renderFirmware } from "../firmware/render.js";
import { ensureTwinBuilt } from "../twin/index.js";

export interface FirmwareRenderCommandOptions {
  board: string;
  out: string;
  overwrite?: boolean;
  keyStore?: KeyStoreKind;
  json?: boolean;
}

/**
 * `provision firmware render --board <id> --out <dir>`: renders, prints the
 * file list (stdout) and the next steps (stderr, as all human progress).
 */
export async function firmwareRenderCommand(opts: FirmwareRenderCommandOptions): Promise<void> {
  // The render's own version check: with ESP-IDF's environment set, refuse what that version cannot build now.
  const idfPath = process.env.IDF_PATH;
  const idfVersion = idfPath ? readIdfVersion(idfPath) : undefined;
  const warning = idfVersion ? checkIdfVersion(idfVersion, idfPath ?? "IDF_PATH") : "";
  const result = renderFirmware({
    boardId: opts.board,
    outDir: opts.out,
    overwrite: opts.overwrite,
    keyStore: opts.keyStore,
    idfVersion,
  });
  if (opts.json) {
    process.stdout.write(
      `${JSON.stringify({ board: result.board.id, outDir: result.outDir, files: result.files })}\n`,
    );
  } else {
    for (const f of result.files) process.stdout.write(`${f}\n`);
  }
  const idf = idfVersion
    ? `ESP-IDF v${idfVersion.text} from IDF_PATH`
    : "ESP-IDF v5.2-v5.5 or v6.0; run ESP-IDF's export.sh first";
  process.stderr.write(
    [
      `rendered ${result.files.length} files for ${result.board.name} (${result.board.id}) into ${result.outDir}`,
      ...(warning ? [`warning: ${warning}`] : []),
      ...nextSteps(result.board, shellWord(result.outDir), idf),
      "",
    ].join("\n"),
  );
}

/** A path as one shell word: quoted when it holds a space or anything a shell reads. */
export function shellWord(path: string): string {
  return /^[\w./+:@%=-]+$/.test(path) ? path : `'${path.replace(/'/g, "'\\''")}'`;
}

/** What to do with the rendered project: flash a chip, or, for idf-linux, run it on this host. */
function nextSteps(board: { id: string; chip: string }, dir: string, idf: string): string[] {
  if (board.chip === "linux")
    return [
      "next steps (the idf-linux device runs on this host, on a pseudo-terminal):",
      `  provision sim --board ${board.id}     # builds it (ESP-IDF from $IDF_PATH, else the kit), starts it, prints its port`,
      "  provision --port <that port> --local",
      `  or by hand (${idf}): cd ${dir} && idf.py --preview set-target linux && idf.py build`,
    ];
  return [
    `next steps (${idf}):`,
    `  cd ${dir}`,
    `  idf.py set-target ${board.chip} && idf.py build flash monitor`,
    `  provision --port <serial port> --board ${board.id}`,
  ];
}

/**
 * `provision firmware build --board <id> [--key-store S] [--idf <version|dir>]`:
 * builds the twin (gcc and Debian's Mbed TLS), the idf-linux device
 * (ESP-IDF's linux target), or a chip board's whole images (bootloader,
 * partition table, app); prints what was built (`--json`: one object).
 */
export async function firmwareBuildCommand(opts: {
  board: string;
  idf?: string;
  keyStore?: KeyStoreKind;
  json?: boolean;
}): Promise<void> {
  const board = getBoard(opts.board);
  const progress = (t: string) => process.stderr.write(`${t}\n`);
  if (board.chip === "host" || board.chip === "linux") {
    if (opts.keyStore)
      throw new ProvisionError("USAGE", `--key-store applies to chip boards; ${board.id} has one store`, {
        where: "--key-store",
      });
    const r =
      board.id === IDF_LINUX_BOARD
        ? await ensureIdfLinuxBuilt({ ...idfSelection(opts.idf), onProgress: progress })
        : { binary: await ensureTwinBuilt(), built: undefined, ms: undefined, idf: undefined };
    if (r.idf)
      progress(
        `${r.built ? "built" : "up to date:"} the idf-linux device with ESP-IDF v${r.idf.version.text} (${r.ms} ms)`,
      );
    process.stdout.write(
      opts.json ? `${JSON.stringify({ board: board.id, binary: r.binary })}\n` : `${r.binary}\n`,
    );
    return;
  }
  if (opts.keyStore && !board.keyStore.supported.includes(opts.keyStore))
    throw new ProvisionError("USAGE", `${board.id} has no key store "${opts.keyStore}"`, {
      where: "--key-store",
      hint: `choose one of: ${board.keyStore.supported.join(", ")}`,
    });
  const image = await ensureChipImageBuilt({
    board: board.id,
    keyStore: opts.keyStore,
    ...idfSelection(opts.idf),
    onProgress: progress,
  });
  for (const w of image.warnings) progress(`warning: ${w}`);
  if (opts.json) {
    process.stdout.write(`${JSON.stringify(chipImageJson(image))}\n`);
    return;
  }
  progress(
    `${image.built ? "built" : "up to date:"} ${image.board} (${image.keyStore}) with ESP-IDF v${image.idfVersion}${image.toolchain === "kit" ? " and the emulated-chip kit" : ""} (${image.ms} ms)`,
  );
  for (const i of image.images)
    progress(
      `  ${hex(i.offset).padEnd(9)} ${i.role.padEnd(16)} ${String(i.size).padStart(8)} bytes  ${i.file}`,
    );
  for (const p of image.partitions)
    progress(
      `  partition ${p.label.padEnd(10)} ${hex(p.offset).padEnd(9)} ${String(p.size).padStart(8)} bytes${p.fill !== undefined ? `  ${(p.fill * 100).toFixed(1)} % used by the app` : ""}`,
    );
  process.stdout.write(`${image.buildDir}\n`);
}

const hex = (n: number) => `0x${n.toString(16)}`;

/** The `--json` shape of a chip image build (docs/json-output.md). */
export function chipImageJson(image: ChipImage) {
  return {
    board: image.board,
    chip: image.chip,
    keyStore: image.keyStore,
    idfVersion: image.idfVersion,
    toolchain: image.toolchain,
    buildDir: image.buildDir,
    images: image.images.map((i) => ({ role: i.role, file: i.file, offset: hex(i.offset), size: i.size })),
    partitions: image.partitions.map((p) => ({ ...p, offset: hex(p.offset) })),
    merged: image.merged,
    warnings: image.warnings,
    built: image.built,
    ms: image.ms,
  };
}
