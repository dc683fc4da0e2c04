/**
 * `provision flash --port P --image DIR|FILE [--offset 0x0]`: writes the
 * firmware through the chip's ROM loader (esptool-js), verifies every region
 * by MD5 and resets into the app. The image is checked before the port is
 * opened and against the chip before a byte is written; the NVS partition
 * (the device's key and credentials) is kept unless asked.
 */
import { createInterface } from "node:readline/promises";
import { ProvisionError } from "../errors.js";
import { type FlashResult, flashDevice } from "../flash/flash.js";
import { type After, type Before, FLASH_BAUD_DEFAULT } from "../flash/loader.js";
import { beforeFor, imageSpec } from "../flash/options.js";
import { printable } from "../printable.js";
import { interrupt } from "./interrupt.js";
import { writeJsonLine } from "./json-output.js";
import { progressFor, timingsObject } from "./progress.js";

export interface FlashCommandOptions {
  port?: string;
  image: string;
  offset?: string;
  board?: string;
  before?: Before;
  after?: After;
  flashBaud?: number;
  /** commander's --no-stub */
  stub?: boolean;
  eraseCredentials?: boolean;
  eraseAll?: boolean;
  yes?: boolean;
  reflash?: boolean;
  verbose?: boolean;
  json?: boolean;
}

/** --erase-all wipes the device's key for good: a person confirms it, a script says --yes. */
export async function confirmEraseAll(
  opts: Pick<FlashCommandOptions, "eraseAll" | "yes" | "port">,
): Promise<void> {
  if (!opts.eraseAll || opts.yes) return;
  if (!process.stdin.isTTY || !process.stderr.isTTY)
    throw new ProvisionError(
      "USAGE",
      "--erase-all erases the whole flash, the device's key and credentials with it",
      {
        where: "--erase-all",
        hint: "in a script, confirm with --yes; to keep the key and credentials, drop --erase-all",
      },
    );
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await rl.question(
      `erase the whole flash of the board on ${opts.port}, its key and credentials included? Type "erase" to go on: `,
    );
    if (answer.trim() !== "erase")
      throw new ProvisionError("USAGE", "--erase-all not confirmed: nothing was written", {
        where: "--erase-all",
      });
  } finally {
    rl.close();
  }
}

export async function flashCommand(opts: FlashCommandOptions): Promise<void> {
  if (!opts.port)
    throw new ProvisionError("PORT_NOT_GIVEN", "no serial port given", {
      hint: "pass --port /dev/ttyUSB0 (or set ESPPORT), or socket://HOST:PORT / rfc2217://HOST:PORT",
    });
  const spec = imageSpec(opts);
  const before = beforeFor(opts);
  await confirmEraseAll(opts);
  const progress = progressFor(opts);
  const result = await flashDevice(
    {
      port: opts.port,
      image: spec,
      before,
      after: opts.after ?? "hard-reset",
      baud: opts.flashBaud ?? FLASH_BAUD_DEFAULT,
      stub: opts.stub !== false,
      eraseCredentials: Boolean(opts.eraseCredentials),
      eraseAll: Boolean(opts.eraseAll),
      reflash: Boolean(opts.reflash),
      signal: interrupt.signal,
    },
    progress,
  );
  if (opts.json) {
    writeJsonLine(flashJson(result, timingsObject(progress.timings)));
    return;
  }
  process.stderr.write(`${flashSummary(result)}\n`);
}

export function flashJson(result: FlashResult, timingsMs: Record<string, number>) {
  return {
    command: "flash",
    ok: true,
    outcome: result.unchanged ? "unchanged" : "flashed",
    ...result,
    timingsMs,
  };
}

export function flashSummary(r: FlashResult): string {
  const written = r.regions.filter((x) => x.written);
  const lines = [
    `${r.unchanged ? "unchanged" : "flashed"} ${r.chip.type} ${r.chip.mac} on ${r.port} in ${(r.durationMs / 1000).toFixed(1)} s: ${written.length} of ${r.regions.length} region(s) written, every one verified by MD5`,
    ...(r.app
      ? [`  app ${r.app.project} ${r.app.version}, ELF SHA-256 ${r.app.elfSha256.slice(0, 16)}…`]
      : []),
    ...(r.nvs
      ? [
          r.nvs.kept
            ? `  NVS ${r.nvs.offset} (${r.nvs.blank ? "blank" : "holds a key and credentials"}): kept`
            : `  NVS ${r.nvs.offset}: erased (--erase-credentials / --erase-all)`,
        ]
      : []),
  ];
  return lines.map(printable).join("\n");
}
