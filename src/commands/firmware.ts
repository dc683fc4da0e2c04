import { getBoard } from "../boards/index.js";
import { ProvisionError } from "../errors.js";
import { idfSelection } from "../firmware/idf.js";
import { ensureIdfLinuxBuilt, IDF_LINUX_BOARD } from "../firmware/idf-linux.js";
import { type FirmwareRenderCommandOptions, firmwareRenderCommand as render } from "../firmware/render.js";
import { ensureTwinBuilt } from "../twin/index.js";

export async function firmwareRenderCommand(opts: FirmwareRenderCommandOptions): Promise<void> {
  await render(opts);
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
