import type { KeyStoreKind } from "../boards/index.js";
import { getBoard } from "../boards/index.js";
import { ProvisionError } from "../errors.js";
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
 * `provision firmware build --board <id> [--idf <version|dir>]`: builds what
 * runs on this host and prints the binary's path: the twin (gcc and Debian's
 * Mbed TLS) or the idf-linux device (ESP-IDF's linux target, with $IDF_PATH
 * or the ESP-IDF kit). Chip boards build with ESP-IDF's idf.py.
 */
export async function firmwareBuildCommand(opts: { board: string; idf?: string }): Promise<void> {
  const board = getBoard(opts.board);
  if (board.id === IDF_LINUX_BOARD) {
    const r = await ensureIdfLinuxBuilt({
      ...idfSelection(opts.idf),
      onProgress: (t) => process.stderr.write(`${t}\n`),
    });
    process.stderr.write(
      `${r.built ? "built" : "up to date:"} the idf-linux device with ESP-IDF v${r.idf.version.text} (${r.ms} ms)\n`,
    );
    process.stdout.write(`${r.binary}\n`);
    return;
  }
  if (board.chip !== "host") {
    throw new ProvisionError(
      "USAGE",
      `${board.id} is an ${board.chip} board: it builds with ESP-IDF's idf.py, not here`,
      {
        hint: `provision firmware render --board ${board.id} --out fw && cd fw && idf.py set-target ${board.chip} && idf.py build flash`,
      },
    );
  }
  const binary = await ensureTwinBuilt();
  process.stdout.write(`${binary}\n`);
}
