/**
 * One run of the emulated ESP32-C3 (the chip kit's QEMU): its SPI flash is a
 * file, its eFuses another, UART0 a pseudo-terminal or a TCP socket. Started
 * the way the kit's scripts/qemu-c3.sh starts it (-icount 3: instruction-
 * counted time, without which the interrupt watchdog can fire), optionally
 * with the strapping pins set for the ROM's UART download mode.
 *
 * A power cut is kill("SIGKILL"): QEMU writes flash through to the file, so
 * the file keeps what the chip had written, as a chip's flash does.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { readFile } from "node:fs/promises";
import { connect, createServer, type Socket } from "node:net";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { ProvisionError } from "../errors.js";
import type { ChipKit } from "../firmware/chip-kit.js";
import { BUILD_CACHE_ROOT } from "../firmware/idf.js";
import { seededEnv } from "./rng-seed.js";

/** How long QEMU may take to set up its UART (it prints the pty before the chip runs). */
const QEMU_START_TIMEOUT_MS = 15_000;
const OUTPUT_LINES = 50;

export interface QemuOptions {
  kit: ChipKit;
  flashFile: string;
  efuseFile: string;
  /** Strapping pins for the ROM's UART download mode (the loader answers esptool). */
  download?: boolean;
  /**
   * UART0 on a new pty (default); on a TCP server socket at 127.0.0.1 that
   * any client may connect to (esptool's socket://); or ("socket") on a TCP
   * socket that startQemu connects itself before the chip runs, so that not a
   * byte of the boot is lost (the emulated board's bridge uses it).
   */
  uart?: "pty" | "tcp" | "socket";
}

export interface QemuRun {
  /** A pty path, or socket://127.0.0.1:PORT. */
  port: string;
  /** uart "socket": UART0, connected. */
  uartSocket?: Socket;
  pid: number;
  /** QEMU's own messages (not the chip's UART). */
  readonly output: string[];
  readonly exited: Promise<number | null>;
  /** SIGTERM; SIGKILL is a power cut. Resolves once QEMU is gone. */
  kill(signal?: NodeJS.Signals): Promise<void>;
}

const live = new Set<ChildProcess>();
process.once("exit", () => {
  for (const c of live) c.kill("SIGKILL");
});

/** Connects to QEMU's UART server as soon as it listens (it listens before the chip runs). */
async function connectWhenListening(port: number, exited: Promise<unknown>): Promise<Socket> {
  let gone = false;
  void exited.then(() => {
    gone = true;
  });
  for (;;) {
    if (gone) throw new Error("QEMU exited before its UART listened");
    const s = await new Promise<Socket | undefined>((done) => {
      const c = connect({ host: "127.0.0.1", port });
      c.once("connect", () => {
        c.setNoDelay(true);
        done(c);
      });
      c.once("error", () => done(undefined));
    });
    if (s) return s;
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Resolves once 127.0.0.1:port is in LISTEN state (/proc/net/tcp; the emulator kit is Linux-only). */
async function whenListening(port: number, exited: Promise<unknown>): Promise<void> {
  let gone = false;
  void exited.then(() => {
    gone = true;
  });
  const entry = new RegExp(
    `^\\s*\\d+: 0100007F:${port.toString(16).toUpperCase().padStart(4, "0")} 00000000:0000 0A `,
    "m",
  );
  for (;;) {
    if (gone) throw new Error("QEMU exited before its UART listened");
    if (entry.test(await readFile("/proc/net/tcp", "utf8"))) return;
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function freeLoopbackPort(): Promise<number> {
  return new Promise((done, fail) => {
    const s = createServer();
    s.once("error", fail);
    s.listen(0, "127.0.0.1", () => {
      const address = s.address();
      s.close(() =>
        typeof address === "object" && address ? done(address.port) : fail(new Error("no port")),
      );
    });
  });
}

export function qemuArgs(o: QemuOptions, serial: string): string[] {
  return [
    "-M",
    "esp32c3",
    "-icount",
    "3",
    "-display",
    "none",
    "-monitor",
    "none",
    "-L",
    o.kit.qemuDataDir,
    "-drive",
    `file=${o.flashFile},if=mtd,format=raw`,
    "-drive",
    `file=${o.efuseFile},if=none,format=raw,id=efuse`,
    "-global",
    "driver=nvram.esp32c3.efuse,property=drive,value=efuse",
    ...(o.download ? ["-global", "driver=esp32c3.gpio,property=strap_mode,value=0x02"] : []),
    "-serial",
    serial,
  ];
}

/** Starts QEMU and resolves once its UART is there to open. */
export async function startQemu(o: QemuOptions): Promise<QemuRun> {
  const tcpPort = o.uart === "tcp" || o.uart === "socket" ? await freeLoopbackPort() : undefined;
  const serial =
    tcpPort === undefined
      ? "pty"
      : `tcp:127.0.0.1:${tcpPort},server=on,wait=${o.uart === "socket" ? "on" : "off"}`;
  const env = await seededEnv(join(BUILD_CACHE_ROOT, "emulator"));
  const child = spawn(o.kit.qemu, qemuArgs(o, serial), { stdio: ["ignore", "pipe", "pipe"], env });
  live.add(child);
  const output: string[] = [];
  const keep = (line: string) => {
    output.push(line);
    if (output.length > OUTPUT_LINES) output.shift();
  };
  createInterface({ input: child.stderr }).on("line", keep);
  const stdout = createInterface({ input: child.stdout });
  stdout.on("line", keep);
  const exited = new Promise<number | null>((done) => {
    child.once("exit", (code) => {
      live.delete(child);
      done(code);
    });
  });
  const where = `emulated ESP32-C3 (flash ${o.flashFile})`;
  let uartSocket: Socket | undefined;
  const port = await new Promise<string>((done, fail) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      fail(
        new ProvisionError("INTERNAL", `QEMU set up no UART within ${QEMU_START_TIMEOUT_MS} ms`, {
          where,
          deviceLog: output,
        }),
      );
    }, QEMU_START_TIMEOUT_MS);
    const ready = (p: string) => {
      clearTimeout(timer);
      done(p);
    };
    if (o.uart === "socket" && tcpPort !== undefined) {
      // With wait=on QEMU holds the chip until this connection is made.
      void connectWhenListening(tcpPort, exited).then((s) => {
        uartSocket = s;
        ready(`socket://127.0.0.1:${tcpPort}`);
      }, fail);
    } else if (tcpPort !== undefined) {
      // QEMU writes nothing unbuffered to a pipe here, and a probing connection would be the chip's
      // first client: the kernel's socket table says when it listens.
      void whenListening(tcpPort, exited).then(() => ready(`socket://127.0.0.1:${tcpPort}`), fail);
    } else {
      stdout.on("line", (line) => {
        const m = /char device redirected to (\/dev\/pts\/\d+)/.exec(line);
        if (m?.[1]) ready(m[1]);
      });
    }
    child.once("error", (e) => {
      clearTimeout(timer);
      fail(new ProvisionError("CONFIG", `cannot start QEMU: ${e.message}`, { where: o.kit.qemu, cause: e }));
    });
    void exited.then((code) => {
      clearTimeout(timer);
      fail(
        new ProvisionError("CONFIG", `QEMU exited (code ${code}) before the chip ran`, {
          where,
          hint: "QEMU needs libfdt1 libpixman-1-0 libgcrypt20 libslirp0 libglib2.0-0 (Debian); see its messages below",
          deviceLog: output,
        }),
      );
    });
  });
  return {
    port,
    uartSocket,
    pid: child.pid ?? 0,
    output,
    exited,
    kill: async (signal: NodeJS.Signals = "SIGTERM") => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
  };
}
