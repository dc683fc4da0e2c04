/**
 * The emulated chip on a development board: a USB-UART bridge with the
 * classic two-transistor auto-reset circuit, served as an RFC 2217 port
 * (`rfc2217://127.0.0.1:N`). QEMU cannot reset the chip from its serial line,
 * so the board does what the circuit does:
 *
 *   EN  is low (chip in reset) while RTS is asserted and DTR is not;
 *   IO0 is low (download mode at reset) while DTR is asserted and RTS is not.
 *
 * EN going low powers the chip off (QEMU is stopped; the flash file keeps
 * what was written); EN staying high for RESET_RELEASE_MS powers it on in
 * the mode IO0 selected while EN rose (low at any point of that time means
 * download mode), as the strapping pins are sampled when reset is released.
 * The settle time plays the part of the RC on EN, which lets a host change
 * DTR and RTS one after the other without a spurious boot.
 * The bridge stays connected across resets, as a USB bridge stays
 * enumerated while the chip resets. One client at a time, like a serial port.
 */
import { createServer, type Server, type Socket } from "node:net";
import type { ChipKit } from "../firmware/chip-kit.js";
import {
  COM_PORT,
  CONTROL,
  escapeData,
  SERVER_OFFSET,
  subnegotiation,
  TELNET_OPTION,
  TelnetDecoder,
  TelnetOptions,
  u32,
} from "../transport/rfc2217.js";
import { type QemuRun, startQemu } from "./qemu.js";

/**
 * How long EN must stay high before the chip runs: the RC on the EN pin, a
 * few ms on a real board, longer here because DTR and RTS arrive as two RFC
 * 2217 commands, each answered before the host sends the next, and a loaded
 * machine can put tens of ms between them (QEMU's own start is slower still).
 */
export const RESET_RELEASE_MS = 100;
/** How long a new client waits for the previous one's connection to finish closing. */
const PORT_HANDOVER_MS = 1_000;

export interface BoardOptions {
  kit: ChipKit;
  flashFile: string;
  efuseFile: string;
  /** Power on in download mode (IO0 held low), e.g. a blank board whose boot button is pressed. */
  download?: boolean;
}

export interface Board {
  /** rfc2217://127.0.0.1:PORT */
  port: string;
  /** How many times the chip has been started (power-on and every reset). */
  readonly boots: number;
  /** The mode of the current run ("off" while held in reset or after a power cut). */
  readonly mode: "boot" | "download" | "off";
  /** QEMU's messages of the current run. */
  readonly qemuOutput: string[];
  /** The chip's current QEMU process id (0 while off). */
  readonly pid: number;
  /** Resolves the next time the chip starts (the mode it started in). */
  nextBoot(): Promise<"boot" | "download">;
  /** Power cut: QEMU killed at once; the board stays reachable and the chip off until EN toggles or powerOn(). */
  powerCut(): Promise<void>;
  powerOn(download?: boolean): Promise<void>;
  /** Unplugs the board: the chip stops and the port closes. */
  stop(): Promise<void>;
  readonly closed: Promise<void>;
}

export async function startBoard(o: BoardOptions): Promise<Board> {
  let chip: QemuRun | undefined;
  let chipSocket: Socket | undefined;
  let client: Socket | undefined;
  let mode: Board["mode"] = "off";
  let boots = 0;
  let stopped = false;
  let dtr = false;
  let rts = false;
  let releaseTimer: NodeJS.Timeout | undefined;
  let bootWaiters: ((m: "boot" | "download") => void)[] = [];
  /** Power-state changes run one after another. */
  let power: Promise<void> = Promise.resolve();
  let closedResolve: () => void = () => undefined;
  const closed = new Promise<void>((r) => {
    closedResolve = r;
  });

  const toClient = (bytes: Buffer) => {
    if (client && !client.destroyed) client.write(escapeData(bytes));
  };
  const off = async () => {
    const run = chip;
    chip = undefined;
    chipSocket = undefined;
    mode = "off";
    if (run) await run.kill("SIGKILL");
  };
  const on = async (download: boolean) => {
    await off();
    if (stopped) return;
    const run = await startQemu({
      kit: o.kit,
      flashFile: o.flashFile,
      efuseFile: o.efuseFile,
      download,
      uart: "socket",
    });
    chip = run;
    chipSocket = run.uartSocket;
    mode = download ? "download" : "boot";
    boots++;
    chipSocket?.on("data", toClient);
    chipSocket?.on("error", () => undefined);
    for (const w of bootWaiters.splice(0)) w(mode);
  };
  const schedule = (change: () => Promise<void>) => {
    power = power.then(change, change);
    return power;
  };

  const enHigh = () => !(rts && !dtr);
  const io0Low = () => dtr && !rts;
  /** IO0 was low at some point while EN rose (the strapping a chip latches at the end of reset). */
  let io0LowWhileReleasing = false;
  const linesChanged = () => {
    if (!enHigh()) {
      if (releaseTimer) clearTimeout(releaseTimer);
      releaseTimer = undefined;
      if (mode !== "off") void schedule(off);
      return;
    }
    if (mode !== "off") return;
    // A host's reset holds IO0 low for only 50 ms after releasing EN (esptool's classic
    // reset). On a loaded machine this timer can fire after IO0 is already released, so
    // the mode is what IO0 was while EN rose, not what it is when the timer gets to run.
    if (releaseTimer) {
      io0LowWhileReleasing ||= io0Low();
      return;
    }
    io0LowWhileReleasing = io0Low();
    releaseTimer = setTimeout(() => {
      releaseTimer = undefined;
      const download = io0LowWhileReleasing || io0Low();
      if (enHigh()) void schedule(() => on(download));
    }, RESET_RELEASE_MS);
  };

  const server: Server = createServer((socket) => void accept(socket));
  /** A new client waits for a closing one (a client that reopens the port at once); a live one keeps the port. */
  const accept = async (socket: Socket) => {
    const previous = client;
    if (previous && !previous.destroyed)
      await new Promise<void>((done) => {
        const timer = setTimeout(done, PORT_HANDOVER_MS);
        previous.once("close", () => {
          clearTimeout(timer);
          done();
        });
      });
    if (client && !client.destroyed) {
      socket.destroy(); // the port is in use
      return;
    }
    client = socket;
    socket.setNoDelay(true);
    const decoder = new TelnetDecoder();
    const options = new TelnetOptions(
      (o) => o === TELNET_OPTION.BINARY || o === TELNET_OPTION.SGA || o === TELNET_OPTION.COM_PORT,
    );
    socket.on("data", (bytes: Buffer) => {
      for (const e of decoder.push(bytes)) {
        if (e.kind === "data") {
          if (chipSocket && !chipSocket.destroyed) chipSocket.write(e.bytes);
        } else if (e.kind === "negotiate") {
          socket.write(options.receive(e.verb, e.option));
        } else if (e.option === TELNET_OPTION.COM_PORT) {
          if (e.code === COM_PORT.SET_CONTROL) {
            const v = e.value[0];
            if (v === CONTROL.DTR_ON || v === CONTROL.DTR_OFF) dtr = v === CONTROL.DTR_ON;
            if (v === CONTROL.RTS_ON || v === CONTROL.RTS_OFF) rts = v === CONTROL.RTS_ON;
            linesChanged();
            socket.write(subnegotiation(e.code + SERVER_OFFSET, Buffer.from([controlState(v, dtr, rts)])));
          } else if (e.code === COM_PORT.SET_BAUDRATE) {
            // The emulated UART follows the chip's divisor, not the bridge: any rate works.
            const asked = e.value.length === 4 ? e.value.readUInt32BE(0) : 0;
            baud = asked === 0 ? baud : asked;
            socket.write(subnegotiation(e.code + SERVER_OFFSET, u32(baud)));
          } else {
            socket.write(subnegotiation(e.code + SERVER_OFFSET, e.value));
          }
        }
      }
    });
    socket.on("close", () => {
      if (client === socket) client = undefined;
    });
    socket.on("error", () => undefined);
  };
  let baud = 115200;
  const port = await new Promise<number>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const a = server.address();
      resolve(typeof a === "object" && a ? a.port : 0);
    });
  });
  await schedule(() => on(Boolean(o.download)));

  return {
    port: `rfc2217://127.0.0.1:${port}`,
    get boots() {
      return boots;
    },
    get mode() {
      return mode;
    },
    get qemuOutput() {
      return chip?.output ?? [];
    },
    get pid() {
      return chip?.pid ?? 0;
    },
    nextBoot: () => new Promise((r) => bootWaiters.push(r)),
    powerCut: () => schedule(off),
    powerOn: (download = false) => schedule(() => on(download)),
    stop: async () => {
      if (stopped) return closed;
      stopped = true;
      if (releaseTimer) clearTimeout(releaseTimer);
      bootWaiters = [];
      await schedule(off);
      client?.destroy();
      await new Promise<void>((r) => server.close(() => r()));
      closedResolve();
      return closed;
    },
    closed,
  };
}

/** The answer to SET-CONTROL: the line's state for set and request values, else the value as asked. */
function controlState(value: number | undefined, dtr: boolean, rts: boolean): number {
  if (value === 7 || value === CONTROL.DTR_ON || value === CONTROL.DTR_OFF)
    return dtr ? CONTROL.DTR_ON : CONTROL.DTR_OFF;
  if (value === 10 || value === CONTROL.RTS_ON || value === CONTROL.RTS_OFF)
    return rts ? CONTROL.RTS_ON : CONTROL.RTS_OFF;
  return value ?? 0;
}
