/**
 * A session with the chip's ROM loader (or esptool's flasher stub), through
 * esptool-js, Espressif's TypeScript implementation of the loader protocol:
 * enter it with the board's reset sequence, identify the chip, switch the
 * line rate, write compressed regions and verify each by MD5, reset into
 * the app. The protocol stays in the library; this file only drives it
 * over this tool's transports (web-serial.ts) and turns its failures into
 * errors that say what to do.
 */
import { createHash } from "node:crypto";
import {
  ESPError,
  ESPLoader,
  HardReset,
  type IEspLoaderTerminal,
  Transport as LoaderTransport,
} from "esptool-js";
import { type ResetStep, resetStepsFor, runResetSteps } from "../boards/reset.js";
import { asProvisionError, ProvisionError } from "../errors.js";
import { openSerialTransport } from "../transport/index.js";
import type { PlannedRegion } from "./plan.js";
import { TransportSerialPort } from "./web-serial.js";

/** The ROM loader's rate after every reset. */
export const ROM_BAUD = 115200;
export const FLASH_BAUD_DEFAULT = 921600;
const LOADER_LOG_LINES = 40;
/** The ROM loader's write block (esptool's FLASH_WRITE_SIZE for ROMs). */
const ROM_WRITE_BLOCK = 0x400;

export type Before = "default-reset" | "usb-reset" | "no-reset";
export type After = "hard-reset" | "no-reset";

export interface LoaderOptions {
  port: string;
  before: Before;
  /** The rate for the transfers; the session falls back to 115200 when the chip does not answer at it. */
  baud: number;
  /** Upload esptool's flasher stub (faster, erases in bulk); false: the ROM loader alone. */
  stub: boolean;
  /** USB ids of the port (esptool-js picks the USB-Serial-JTAG reset by them). */
  usb?: { vendorId: number; productId: number };
  /** The board's hard reset into the app (default: the classic circuit's, RTS pulsed with IO0 released). */
  hardReset?: ResetStep[];
}

export interface ChipInfo {
  /** "ESP32-C3" */
  type: string;
  /** esptool's description, e.g. "ESP32-C3 (QFN32) (revision v0.3)" */
  description: string;
  /** "v0.3", when the chip reports one. */
  revision?: string;
  mac: string;
  features: string[];
  /** JEDEC id as hex (manufacturer, device). */
  flashId: string;
  flashSizeBytes?: number;
  /** The rate the transfers run at (the asked one, or 115200 after a fallback). */
  baud: number;
  stub: boolean;
}

/** esptool-js's messages, kept for error reports rather than printed. */
class LoaderLog implements IEspLoaderTerminal {
  readonly lines: string[] = [];
  private partial = "";
  clean(): void {}
  write(data: string): void {
    this.partial += data;
  }
  writeLine(data: string): void {
    this.lines.push(`${this.partial}${data}`.trim());
    this.partial = "";
    if (this.lines.length > LOADER_LOG_LINES) this.lines.shift();
  }
}

/** esptool-js's transport, its trace lines (some printed whatever the tracing flag says) kept in the log, not on stdout. */
class QuietTransport extends LoaderTransport {
  constructor(
    port: ConstructorParameters<typeof LoaderTransport>[0],
    private readonly sink: LoaderLog,
  ) {
    super(port, false);
  }
  override trace(message: string): void {
    this.sink.writeLine(`trace: ${message}`);
  }
}

/** A hard reset into the app by the board's own steps (esptool-js 0.7.0's HardReset never pulls EN low). */
class BoardHardReset extends HardReset {
  constructor(
    private readonly link: LoaderTransport,
    private readonly steps: ResetStep[],
  ) {
    super(link, false);
  }
  override async reset(): Promise<void> {
    await runResetSteps(this.steps, (lines) => this.link.setSignals(lines.dtr, lines.rts));
  }
}

/**
 * esptool-js's loader made fit for the ROM alone: its main() and its baud
 * fallback always upload the stub, and its MD5 reads the stub's 16 binary
 * bytes, while the ROM answers 32 ASCII hex digits (esptool: "already hex
 * formatted"), which it hex-encodes a second time.
 */
class OptionalStubLoader extends ESPLoader {
  useStub = true;
  override async runStub() {
    return this.useStub ? super.runStub() : this.chip;
  }
  override async flashMd5sum(addr: number, size: number): Promise<string> {
    const md5 = await super.flashMd5sum(addr, size);
    if (this.IS_STUB || md5.length !== 64) return md5;
    const ascii = Buffer.from(md5, "hex").toString("latin1");
    return /^[0-9a-f]{32}$/i.test(ascii) ? ascii.toLowerCase() : md5;
  }
}

export interface LoaderSession {
  chip: ChipInfo;
  /** The loader's MD5 of a flash range (the ROM computes it on the chip). */
  md5(offset: number, size: number): Promise<string>;
  /** Writes one region compressed, verifies its MD5; `onProgress(bytes written of the compressed total, total)`. */
  write(
    region: PlannedRegion,
    onProgress?: (written: number, total: number) => void,
  ): Promise<{ ms: number; sentBytes: number }>;
  /** Leaves the loader: hard-reset into the app (RTS), or stay. */
  leave(after: After): Promise<void>;
  /** esptool-js's last messages (for a failure report). */
  readonly log: string[];
  close(): Promise<void>;
}

const MODE: Record<Before, "default_reset" | "usb_reset" | "no_reset"> = {
  "default-reset": "default_reset",
  "usb-reset": "usb_reset",
  "no-reset": "no_reset",
};

export async function openLoader(o: LoaderOptions): Promise<LoaderSession> {
  const log = new LoaderLog();
  const port = new TransportSerialPort({
    open: (baudRate) => openSerialTransport(o.port, { baudRate }),
    ...(o.usb ? { usb: o.usb } : {}),
  });
  const transport = new QuietTransport(
    port as unknown as ConstructorParameters<typeof LoaderTransport>[0],
    log,
  );
  const hardReset = o.hardReset ?? resetStepsFor({ reset: { strategy: "classic" } });
  const loader = new OptionalStubLoader({
    transport,
    baudrate: o.baud,
    romBaudrate: ROM_BAUD,
    terminal: log,
    resetConstructors: { hardReset: (t: LoaderTransport) => new BoardHardReset(t, hardReset) },
  });
  loader.useStub = o.stub;
  try {
    await detectChip(loader, transport, MODE[o.before], log);
    const type = loader.chip.CHIP_NAME;
    const description = await loader.chip.getChipDescription(loader);
    const revisionNumber = loader.chip.getChipRevision
      ? await loader.chip.getChipRevision(loader)
      : undefined;
    const features = await loader.chip.getChipFeatures(loader);
    const mac = await loader.chip.readMac(loader);
    if (o.stub) await loader.runStub();
    else {
      // The ROM does not attach the SPI flash by itself (esptool does the same without its stub), and takes
      // smaller blocks than the stub: esptool-js keeps the stub's size, its main() always uploading the stub.
      await loader.flashSpiAttach(0);
      loader.FLASH_WRITE_SIZE =
        (loader.chip as { FLASH_WRITE_SIZE?: number }).FLASH_WRITE_SIZE ?? ROM_WRITE_BLOCK;
    }
    if (o.baud !== ROM_BAUD) await loader.changeBaud();
    const id = await loader.readFlashId();
    const size = loader.DETECTED_FLASH_SIZES[(id >> 16) & 0xff];
    const sizeMb = size ? Number.parseInt(size, 10) : Number.NaN;
    const chip: ChipInfo = {
      type,
      description,
      ...(revisionNumber !== undefined
        ? { revision: `v${Math.floor(revisionNumber / 100)}.${revisionNumber % 100}` }
        : {}),
      mac,
      features,
      flashId: id.toString(16).padStart(6, "0"),
      ...(Number.isFinite(sizeMb) ? { flashSizeBytes: sizeMb * 1024 * 1024 } : {}),
      baud: transport.baudrate,
      stub: loader.IS_STUB,
    };
    return {
      chip,
      log: log.lines,
      md5: (offset, size) => loader.flashMd5sum(offset, size),
      write: async (region, onProgress) => {
        const started = Date.now();
        let sentBytes = 0;
        await loader.writeFlash({
          fileArray: [{ data: new Uint8Array(region.data), address: region.offset }],
          // The images carry the settings they were built with; patching a header would break its appended digest.
          flashMode: "keep",
          flashFreq: "keep",
          flashSize: "keep",
          eraseAll: false,
          compress: true,
          reportProgress: (_i, written, total) => {
            sentBytes = total;
            onProgress?.(written, total);
          },
          calculateMD5Hash: (image) => md5Hex(image),
        });
        return { ms: Date.now() - started, sentBytes };
      },
      leave: async (after) => {
        if (after === "hard-reset") await loader.after("hard_reset", false);
      },
      close: () => transport.disconnect().catch(() => undefined),
    };
  } catch (e) {
    await transport.disconnect().catch(() => undefined);
    throw loaderError(e, o, log.lines);
  }
}

/** Whole detections (sync, then GET_SECURITY_INFO) before the chip counts as unknown. */
const DETECT_ATTEMPTS = 3;

/**
 * esptool-js's detection, tried again from the sync when it fails. Its one
 * retry reads the chip's magic register, which the ESP32-C3 ROM answers with a
 * value esptool-js does not list; so a GET_SECURITY_INFO whose answer came too
 * late once (a loaded host, a slow bridge) failed the whole flash. A chip
 * that really is another one fails the same way every time.
 */
async function detectChip(
  loader: ESPLoader,
  transport: LoaderTransport,
  mode: "default_reset" | "usb_reset" | "no_reset",
  log: LoaderLog,
): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await loader.detectChip(mode);
      return;
    } catch (e) {
      if (attempt >= DETECT_ATTEMPTS || !(e instanceof ESPError)) throw e;
      log.writeLine(
        `detection failed (${e.message}); connecting again (${attempt + 1} of ${DETECT_ATTEMPTS})`,
      );
      await transport.disconnect().catch(() => undefined);
    }
  }
}

function md5Hex(b: Uint8Array): string {
  return createHash("md5").update(b).digest("hex");
}

/** What a failed loader session tells the user: esptool-js's words, where, and what to do. */
export function loaderError(
  e: unknown,
  o: Pick<LoaderOptions, "port" | "before">,
  log: string[],
): ProvisionError {
  const err = asProvisionError(e);
  if (err.code !== "INTERNAL") return err; // the port's own errors (not found, busy) say it already
  const msg = e instanceof Error ? e.message : String(e);
  if (/Failed to connect|Wrong boot mode|No serial data/i.test(msg))
    return new ProvisionError("DEVICE_SILENT", `the chip's ROM loader did not answer on ${o.port}: ${msg}`, {
      where: o.port,
      hint:
        o.before === "no-reset"
          ? "with --before no-reset the chip must already be in download mode: hold BOOT (IO0) and press RESET, then run again"
          : "hold BOOT (IO0) while pressing RESET to enter download mode, or check the cable; a board without auto-reset needs --before no-reset",
      deviceLog: log,
      cause: e,
    });
  if (/MD5 of file does not match/i.test(msg))
    return new ProvisionError("DEVICE_MISMATCH", "the flash does not hold what was written (MD5 differs)", {
      where: o.port,
      hint: "run the flash again; if it keeps failing, try a lower --flash-baud, another cable, or the flash chip is faulty",
      deviceLog: log,
      cause: e,
    });
  return new ProvisionError("DEVICE_PROTOCOL", `flashing failed on ${o.port}: ${msg}`, {
    where: o.port,
    hint: "run the flash again (it verifies every region); a lower --flash-baud or --no-stub may help",
    deviceLog: log,
    cause: e,
  });
}
