/**
 * Launcher for devices on pseudo-terminals: the device twin
 * (firmware-templates/host/provision-twin) or the idf-linux device (the
 * ESP-IDF port built for ESP-IDF's linux target, src/firmware/idf-linux.ts).
 * Builds what is needed and starts devices on their own ptys. Used by
 * `provision sim`, the demo, the station benchmark and tests.
 *
 * Both keep one stdout contract (twin_main.c, system_linux.c): one JSON line
 * `{"port":"/dev/pts/N","deviceId":"...","pid":N,"stateDir":"..."}`, then
 * nothing; diagnostics on stderr.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdir, readdir, stat } from "node:fs/promises";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { ProvisionError } from "../errors.js";
import { runTool, withDirLock } from "../firmware/build-tools.js";
import type { ResolveIdfOptions } from "../firmware/idf.js";
import { ensureIdfLinuxBuilt } from "../firmware/idf-linux.js";
import { PACKAGE_ROOT } from "../package-root.js";

export const TWIN_DIR = join(PACKAGE_ROOT, "firmware-templates", "host");
export const TWIN_BINARY = join(TWIN_DIR, "build/provision-twin");
/** How long a twin may take to print its port line. */
export const TWIN_START_TIMEOUT_MS = 10_000;
/** How long stop() waits after SIGTERM before SIGKILL. */
export const TWIN_STOP_TIMEOUT_MS = 3_000;
const BUILD_LOCK_STALE_MS = 120_000;
const STDERR_LINES = 50;

/** Source trees whose change makes the binary stale. */
const SOURCE_DIRS = [
  join(TWIN_DIR, "src"),
  resolve(TWIN_DIR, "../core/src"),
  resolve(TWIN_DIR, "../core/include/prov"),
];

/** What runs on the pty: the twin (the core on Linux) or the ESP-IDF port on ESP-IDF's linux target. */
export type DeviceFirmware = "twin" | "idf-linux";
export const DEVICE_FIRMWARES: readonly DeviceFirmware[] = ["twin", "idf-linux"];

export interface TwinOptions {
  /** Default "twin". */
  firmware?: DeviceFirmware;
  /** For idf-linux: which ESP-IDF builds it (default $IDF_PATH, else the newest kit). */
  idf?: ResolveIdfOptions;
  /** Progress of a build that may take a minute (idf-linux). */
  onBuild?: (text: string) => void;
  /** The twin's flash: keys, committed set, device id. Created if missing. */
  stateDir: string;
  /** 12 lowercase hex digits; default: saved in the state dir, else derived from its path. */
  deviceId?: string;
  boardId?: string;
  /** Twin only: pace output like a UART at this rate (10 bits per byte); 0 or absent = unpaced. */
  lineRateBaud?: number;
  /** Twin only: print a ROM boot banner and ESP-IDF-like log lines at (re)boot (idf-linux logs as ESP-IDF does). */
  bootBanner?: boolean;
  /** Twin only: extra delay inside key generation, to imitate a slow chip. */
  keygenDelayMs?: number;
  /** Mirror the twin's UART log lines to its stderr (kept in `stderrLines`). */
  logStderr?: boolean;
  /** A noisy line: bytes lost per million, in both directions (soak tests). */
  dropPpm?: number;
}

export interface Twin {
  /** What runs: a twin, the idf-linux device, or a chip image on the emulated ESP32-C3 (src/emulator). */
  firmware: DeviceFirmware | "emulated-chip";
  /** The pty path to open as a serial port. */
  port: string;
  deviceId: string;
  /** Absolute state dir. */
  stateDir: string;
  pid: number;
  /** Last stderr lines of the twin process (newest last). */
  readonly stderrLines: string[];
  /** Resolves with the exit code (null when killed by a signal) once the process is gone. */
  readonly exited: Promise<number | null>;
  /** SIGTERM, then SIGKILL after TWIN_STOP_TIMEOUT_MS; resolves when the process is gone. */
  stop(): Promise<void>;
  /** Send a signal (SIGKILL = power cut) and wait until the process is gone. */
  kill(signal?: NodeJS.Signals): Promise<void>;
}

async function newestSourceMtimeMs(): Promise<number> {
  let newest = (await stat(join(TWIN_DIR, "Makefile"))).mtimeMs;
  for (const dir of SOURCE_DIRS) {
    for (const name of await readdir(dir)) {
      newest = Math.max(newest, (await stat(join(dir, name))).mtimeMs);
    }
  }
  return newest;
}

/** The Debian package whose absence explains a failed build, from the compiler output. */
export function missingPackageHint(output: string): string {
  if (/mosquitto\.h|-lmosquitto/.test(output)) return "libmosquitto-dev";
  if (/mbedtls\/|-lmbed/.test(output)) return "libmbedtls-dev";
  if (/\b(cc|gcc): (command )?not found|\b(cc|gcc): No such file or directory/.test(output)) return "gcc";
  return "";
}

/** Serialises builds across processes (vitest workers). */
function withBuildLock<T>(fn: () => Promise<T>): Promise<T> {
  return withDirLock(
    join(TWIN_DIR, ".build.lock"),
    { staleMs: BUILD_LOCK_STALE_MS, what: "twin build", pollMs: 100 },
    fn,
  );
}

let building: Promise<string> | undefined;

/**
 * Builds provision-twin with make when the binary is missing or older than
 * its sources; returns the binary path. Throws ProvisionError CONFIG naming
 * the Debian package to install when the build fails.
 */
export function ensureTwinBuilt(): Promise<string> {
  building ??= build().finally(() => {
    building = undefined;
  });
  return building;
}

async function isFresh(): Promise<boolean> {
  const bin = await stat(TWIN_BINARY).catch(() => undefined);
  return bin !== undefined && bin.mtimeMs >= (await newestSourceMtimeMs());
}

async function build(): Promise<string> {
  if (await isFresh()) return TWIN_BINARY;
  return withBuildLock(async () => {
    if (await isFresh()) return TWIN_BINARY; // another process built it meanwhile
    const r = await runTool("make", ["-C", TWIN_DIR, "all"]);
    if (r.spawnError) {
      throw new ProvisionError(
        "CONFIG",
        `cannot run make to build the device twin: ${r.spawnError.message}`,
        {
          where: TWIN_DIR,
          hint: "install the build tools: apt-get install -y make gcc libmbedtls-dev libmosquitto-dev",
          cause: r.spawnError,
        },
      );
    }
    if (r.code !== 0) {
      const pkg = missingPackageHint(r.output);
      const tail = r.output.trim().split("\n").slice(-8);
      throw new ProvisionError("CONFIG", `building the device twin failed (make exit ${r.code})`, {
        where: TWIN_DIR,
        hint: pkg
          ? `install the missing Debian package: apt-get install -y ${pkg}`
          : "needs gcc, make, libmbedtls-dev and libmosquitto-dev; see the compiler output",
        deviceLog: tail,
      });
    }
    return TWIN_BINARY;
  });
}

const live = new Set<ChildProcess>();
let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // the twins also get --exit-with-parent; this covers a normal exit of a parent that forgot stop()
  process.once("exit", () => {
    for (const c of live) c.kill("SIGKILL");
  });
}

/** The program for `o.firmware`, built if needed. */
async function deviceBinary(o: Pick<TwinOptions, "firmware" | "idf" | "onBuild">): Promise<string> {
  if (o.firmware === "idf-linux")
    return (await ensureIdfLinuxBuilt({ ...o.idf, onProgress: o.onBuild })).binary;
  return ensureTwinBuilt();
}

function twinArgs(o: TwinOptions): string[] {
  const args = ["--state-dir", o.stateDir, "--exit-with-parent"];
  if (o.firmware === "idf-linux") {
    // The real port runs at the host's speed and prints ESP-IDF's own boot log; the twin's imitations do not apply.
    if (o.lineRateBaud || o.keygenDelayMs)
      throw new TypeError(
        "lineRateBaud and keygenDelayMs imitate a chip in the twin; the idf-linux device has neither",
      );
    if (o.deviceId !== undefined) {
      if (!/^[0-9a-f]{12}$/.test(o.deviceId))
        throw new TypeError(`deviceId must be 12 lowercase hex digits, got ${JSON.stringify(o.deviceId)}`);
      args.push("--device-id", o.deviceId);
    }
    if (o.logStderr) args.push("--log-stderr");
    return args;
  }
  if (o.deviceId !== undefined) {
    if (!/^[0-9a-f]{12}$/.test(o.deviceId))
      throw new TypeError(`deviceId must be 12 lowercase hex digits, got ${JSON.stringify(o.deviceId)}`);
    args.push("--device-id", o.deviceId);
  }
  if (o.boardId !== undefined) args.push("--board-id", o.boardId);
  if (o.lineRateBaud !== undefined) {
    if (!Number.isInteger(o.lineRateBaud) || o.lineRateBaud < 0)
      throw new TypeError(`lineRateBaud must be a non-negative integer, got ${o.lineRateBaud}`);
    args.push("--line-rate", String(o.lineRateBaud));
  }
  if (o.bootBanner) args.push("--boot-banner");
  if (o.keygenDelayMs !== undefined) args.push("--keygen-delay-ms", String(o.keygenDelayMs));
  if (o.logStderr) args.push("--log-stderr");
  if (o.dropPpm !== undefined) {
    if (!Number.isInteger(o.dropPpm) || o.dropPpm < 0 || o.dropPpm > 1_000_000)
      throw new TypeError(`dropPpm must be an integer 0-1000000, got ${o.dropPpm}`);
    args.push("--drop-ppm", String(o.dropPpm));
  }
  return args;
}

/** Builds if needed, starts one twin and resolves once its pty is ready. */
export async function startTwin(options: TwinOptions): Promise<Twin> {
  const binary = await deviceBinary(options);
  // The twin makes its own state dir but not its parents (`sim --state-dir a/b` on a fresh checkout).
  await mkdir(resolve(options.stateDir, ".."), { recursive: true });
  const args = twinArgs(options);
  const child = spawn(binary, args, { stdio: ["ignore", "pipe", "pipe"] });
  installExitHook();
  live.add(child);
  const stderrLines: string[] = [];
  createInterface({ input: child.stderr }).on("line", (l) => {
    stderrLines.push(l);
    if (stderrLines.length > STDERR_LINES) stderrLines.shift();
  });
  const exited = new Promise<number | null>((done) => {
    child.once("exit", (code) => {
      live.delete(child);
      done(code);
    });
  });

  const kind = options.firmware === "idf-linux" ? "idf-linux device" : "device twin";
  const where = `${options.firmware ?? "twin"} ${options.stateDir}`;
  const first = await new Promise<string>((done, fail) => {
    const rl = createInterface({ input: child.stdout });
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      fail(
        new ProvisionError("INTERNAL", `${kind} printed no port within ${TWIN_START_TIMEOUT_MS} ms`, {
          where,
          deviceLog: stderrLines,
        }),
      );
    }, TWIN_START_TIMEOUT_MS);
    rl.once("line", (line) => {
      clearTimeout(timer);
      done(line);
    });
    child.once("error", (e) => {
      clearTimeout(timer);
      fail(new ProvisionError("INTERNAL", `cannot start the ${kind}: ${e.message}`, { where, cause: e }));
    });
    void exited.then((code) => {
      clearTimeout(timer);
      fail(
        new ProvisionError("CONFIG", `${kind} exited (code ${code}) before it was ready`, {
          where,
          hint: "see the twin's messages below (state dir writable? pseudo-terminals available?)",
          deviceLog: stderrLines,
        }),
      );
    });
  });
  const info = JSON.parse(first) as { port: string; deviceId: string; pid: number; stateDir: string };

  const kill = async (signal: NodeJS.Signals = "SIGTERM"): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    await exited;
  };
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const timer = setTimeout(() => child.kill("SIGKILL"), TWIN_STOP_TIMEOUT_MS);
    await kill("SIGTERM");
    clearTimeout(timer);
  };
  return {
    firmware: options.firmware ?? "twin",
    port: info.port,
    deviceId: info.deviceId,
    stateDir: info.stateDir,
    pid: info.pid,
    stderrLines,
    exited,
    stop,
    kill,
  };
}

/** Starts n twins with state dirs baseDir/twin-0 .. twin-(n-1). */
export async function startTwins(
  n: number,
  baseDir: string,
  options: Omit<TwinOptions, "stateDir" | "deviceId"> = {},
): Promise<Twin[]> {
  if (!Number.isInteger(n) || n < 1) throw new TypeError(`n must be a positive integer, got ${n}`);
  await deviceBinary(options); // one build before n starts
  const started = await Promise.allSettled(
    Array.from({ length: n }, (_, i) => startTwin({ ...options, stateDir: join(baseDir, `twin-${i}`) })),
  );
  const twins = started.flatMap((s) => (s.status === "fulfilled" ? [s.value] : []));
  const failed = started.find((s): s is PromiseRejectedResult => s.status === "rejected");
  if (failed) {
    await Promise.all(twins.map((t) => t.stop()));
    throw failed.reason;
  }
  return twins;
}
