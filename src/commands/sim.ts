/**
 * `provision sim [--count N] [--board twin|idf-linux|<chip board> --emulate] [--state-dir DIR]`:
 * devices for trying the tool (or a station) without hardware: device twins,
 * the ESP-IDF port itself built for ESP-IDF's linux target, or a chip
 * board's whole image booted on an emulated chip (QEMU). Prints one port
 * per line (or a JSON array) on stdout and keeps the devices running until
 * interrupted; a device started again on the same state dir keeps its key
 * and flash.
 */
import { join, resolve } from "node:path";
import { getBoard, type KeyStoreKind } from "../boards/index.js";
import { EMULATED_CHIPS, startEmulatedChip } from "../emulator/emulated-chip.js";
import { ProvisionError } from "../errors.js";
import { ensureChipImageBuilt } from "../firmware/chip-image.js";
import { idfSelection } from "../firmware/idf.js";
import { whenInterrupted } from "../provision/interruption.js";
import { DEVICE_FIRMWARES, type DeviceFirmware, startTwins, type Twin } from "../twin/index.js";
import { interrupt } from "./interrupt.js";

export interface SimCommandOptions {
  count: number;
  board?: string;
  emulate?: boolean;
  keyStore?: KeyStoreKind;
  /** --emulate: start from erased flash (a blank board), for flashing. */
  blank?: boolean;
  /** --emulate: UART0 on a pty, or behind a board with reset lines (an RFC 2217 port). */
  uart?: "pty" | "rfc2217";
  idf?: string;
  stateDir: string;
  lineRate?: number;
  json?: boolean;
}

/**
 * The emulator models no HMAC or DS peripheral: an nvs-encrypted image
 * resets in a loop and a ds one signs nothing valid (docs/firmware.md), so
 * an emulated chip gets plain NVS unless asked otherwise.
 */
const EMULATED_KEY_STORE: KeyStoreKind = "nvs";

export async function simCommand(opts: SimCommandOptions): Promise<void> {
  const board = opts.board ?? "twin";
  if (opts.emulate || !(DEVICE_FIRMWARES as readonly string[]).includes(board)) {
    await emulatedSim({ ...opts, board });
    return;
  }
  if (opts.keyStore)
    throw new ProvisionError("USAGE", "--key-store chooses a chip image's key store: it needs --emulate", {
      where: "--key-store",
    });
  const firmware = board as DeviceFirmware;
  if (firmware === "idf-linux" && opts.lineRate)
    throw new ProvisionError(
      "USAGE",
      "--line-rate paces twins only: the idf-linux device runs at the host's speed",
      {
        where: "--line-rate",
      },
    );
  const twins = await startTwins(opts.count, resolve(opts.stateDir), {
    firmware,
    idf: idfSelection(opts.idf),
    onBuild: (t) => process.stderr.write(`${t}\n`),
    ...(firmware === "twin" ? { bootBanner: true } : {}),
    ...(opts.lineRate ? { lineRateBaud: opts.lineRate } : {}),
  });
  await serveUntilInterrupted(twins, opts, firmware === "twin" ? "twin(s)" : "idf-linux device(s)");
}

/** Prints the devices, reports one that dies on its own, and stops them all at SIGINT/SIGTERM/SIGHUP. */
async function serveUntilInterrupted(devices: Twin[], opts: SimCommandOptions, kind: string): Promise<void> {
  if (opts.json) {
    process.stdout.write(
      `${JSON.stringify(devices.map((t) => ({ port: t.port, deviceId: t.deviceId, stateDir: t.stateDir })))}\n`,
    );
  } else {
    for (const t of devices) process.stdout.write(`${t.port}\n`);
  }
  process.stderr.write(
    `${devices.length} ${kind} running; Ctrl-C stops them (their flash stays in ${opts.stateDir})\n`,
  );
  // A device that dies on its own (crash) is reported rather than silently missing.
  for (const t of devices)
    void t.exited.then((code) => {
      if (!interrupt.signal.aborted)
        process.stderr.write(`device ${t.deviceId} on ${t.port} exited (${code})\n`);
    });
  // Runs until SIGINT/SIGTERM/SIGHUP, then stops the devices (their flash is on disk) and exits 130/143/129.
  await whenInterrupted(interrupt.signal);
  await Promise.all(devices.map((t) => t.stop()));
}

/** `--emulate`: the board's image (built, or found built) booted on emulated chips, one state dir each. */
async function emulatedSim(opts: SimCommandOptions & { board: string }): Promise<void> {
  const board = getBoard(opts.board);
  if (!EMULATED_CHIPS.includes(board.chip))
    throw new ProvisionError(
      "USAGE",
      `there is no emulated ${board.chip}: --emulate runs ${EMULATED_CHIPS.join(", ")} boards`,
      {
        where: "--board",
        hint: "emulated boards: esp32-c3-devkitm-1; or --board twin / idf-linux",
      },
    );
  if (opts.lineRate)
    throw new ProvisionError("USAGE", "--line-rate paces twins only: the emulated chip has its own UART", {
      where: "--line-rate",
    });
  if (opts.blank && (opts.keyStore || opts.idf))
    throw new ProvisionError(
      "USAGE",
      "--blank starts with erased flash: there is no image to choose a key store or ESP-IDF for",
      {
        where: opts.keyStore ? "--key-store" : "--idf",
        hint: "flash the image with `provision flash` (or `provision --flash DIR`) once the board runs",
      },
    );
  const progress = (t: string) => process.stderr.write(`${t}\n`);
  // A blank board is flashed through the ROM loader: it needs the reset lines of an RFC 2217 port.
  const uart = opts.uart ?? (opts.blank ? "rfc2217" : "pty");
  const image = opts.blank
    ? undefined
    : await ensureChipImageBuilt({
        board: board.id,
        keyStore: opts.keyStore ?? EMULATED_KEY_STORE,
        ...idfSelection(opts.idf),
        onProgress: progress,
      });
  const baseDir = resolve(opts.stateDir);
  const started = await Promise.allSettled(
    Array.from({ length: opts.count }, (_, i) =>
      startEmulatedChip({
        stateDir: join(baseDir, `chip-${i}`),
        ...(image ? { image } : { blank: true, waitForApp: false }),
        uart,
      }),
    ),
  );
  const chips = started.flatMap((s) => (s.status === "fulfilled" ? [s.value] : []));
  const failed = started.find((s): s is PromiseRejectedResult => s.status === "rejected");
  if (failed) {
    await Promise.all(chips.map((c) => c.stop()));
    throw failed.reason;
  }
  for (const c of chips)
    progress(
      c.bootMs === undefined
        ? `emulated ${board.chip} ${c.deviceId} on ${c.port}${uart === "rfc2217" ? " (a board with DTR/RTS auto-reset)" : ""}`
        : `emulated ${board.chip} ${c.deviceId} booted in ${c.bootMs} ms on ${c.port}`,
    );
  await serveUntilInterrupted(
    chips,
    opts,
    `emulated ${board.chip} chip(s) (${board.id}, ${image ? image.keyStore : "blank flash"})`,
  );
}
