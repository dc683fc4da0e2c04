import { getBoard } from "../boards/index.js";
import { ProvisionError } from "../errors.js";
import { type FirmwareRenderCommandOptions, firmwareRenderCommand as render } from "../firmware/render.js";
import { ensureTwinBuilt } from "../twin/index.js";

export async function firmwareRenderCommand(opts: FirmwareRenderCommandOptions): Promise<void> {
  await render(opts);
}

/**
 * `provision firmware build --board <id>`: the twin builds here with gcc and
 * Debian's mbedTLS; chip boards need ESP-IDF, which this tool does not drive
 * (render the project and run idf.py).
 */
export async function firmwareBuildCommand(opts: { board: string }): Promise<void> {
  const board = getBoard(opts.board);
  if (board.chip !== "host") {
    throw new ProvisionError(
      "USAGE",
      `${board.id} is an ${board.chip} board: it builds with ESP-IDF, not here`,
      {
        hint: `provision firmware render --board ${board.id} --out fw && cd fw && idf.py set-target ${board.chip} && idf.py build flash`,
      },
    );
  }
  const binary = await ensureTwinBuilt();
  process.stdout.write(`${binary}\n`);
}
