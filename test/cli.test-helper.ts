/**
 * Running the real `provision` binary from tests, as a user would: its own
 * process, a working directory of the test's, and by default an environment
 * with nothing from the developer's (no AWS credentials, an empty HOME).
 */
import { spawn } from "node:child_process";
import { resolve } from "node:path";
import { DEVICE_STATE } from "../src/protocol/index.js";
import { DeviceSession } from "../src/session/index.js";
import { openSerialTransport } from "../src/transport/index.js";

export const BIN = resolve("bin/provision.js");

export interface CliRun {
  status: number | null;
  /** The signal that ended the process (a kill it did not handle, e.g. SIGKILL). */
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
  /** Sends SIGINT (useful with untilLine, while the command still runs). */
  interrupt: () => void;
  /** Resolves with the exit status once the process is gone (with untilLine, after interrupt()). */
  exited: Promise<number | null>;
}

export interface CliOptions {
  /** Working directory (also HOME unless `inheritEnv`). */
  cwd: string;
  env?: NodeJS.ProcessEnv;
  /** Start from the test's own environment instead of a clean one. */
  inheritEnv?: boolean;
  /** Resolve at the first complete stdout line, leaving the command running. */
  untilLine?: boolean;
  /**
   * Send `signal` as soon as stderr matches `after` (a kill right after a step line), or `after` ms
   * after the start; `again`: a second one right behind it (the forced exit).
   */
  kill?: { after: RegExp | number; signal: NodeJS.Signals; again?: boolean };
  /** Call `act` once stderr matches `after` (to hurt something else at that moment: the twin, the cloud). */
  watch?: { after: RegExp; act: () => void };
  /** Close our end of the command's stdout or stderr once stderr matches `after` (`| head` exiting). */
  closeOutput?: { after: RegExp; stream: "stdout" | "stderr" };
  /** SIGKILL the command if it is still running after this long. */
  timeoutMs?: number;
  /** A command the CLI runs under (e.g. setpriv to drop capabilities), given the node binary and its args. */
  prefix?: string[];
  /** Another TypeScript entry to run the same way instead of the CLI (e.g. scripts/soak.ts). */
  script?: string;
  /** An installed `provision` (a packed install's bin) to run instead of this checkout's, by its shebang. */
  installed?: string;
}

/**
 * As root, what makes root "root" for files is two capabilities: without
 * them the CLI meets file permissions as any user does, while still being
 * able to read the checkout wherever it is (another uid could not under a
 * 0700 parent). util-linux's setpriv drops them.
 */
export const WITHOUT_FILE_OVERRIDE = [
  "setpriv",
  "--inh-caps=-dac_override,-dac_read_search",
  "--bounding-set=-dac_override,-dac_read_search",
  "--",
];

export function runCli(args: string[], opts: CliOptions): Promise<CliRun> {
  const started = Date.now();
  const base: NodeJS.ProcessEnv = opts.inheritEnv
    ? { ...process.env }
    : { PATH: process.env.PATH, HOME: opts.cwd, AWS_EC2_METADATA_DISABLED: "true" };
  const [command, ...prefixArgs] = [...(opts.prefix ?? []), opts.installed ?? process.execPath];
  const entry = opts.installed ? [] : opts.script ? ["--import", "tsx", opts.script] : [BIN];
  const child = spawn(command as string, [...prefixArgs, ...entry, ...args], {
    cwd: opts.cwd,
    env: { ...base, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true", ...opts.env },
  });
  const interrupt = () => child.kill("SIGINT");
  const exited = new Promise<number | null>((done) => child.once("close", (status) => done(status)));
  let kill = opts.kill;
  const fire = () => {
    if (!kill) return;
    child.kill(kill.signal);
    if (kill.again) child.kill(kill.signal);
    kill = undefined;
  };
  if (typeof kill?.after === "number") setTimeout(fire, kill.after);
  let watch = opts.watch;
  let close = opts.closeOutput;
  const deadline = opts.timeoutMs ? setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs) : undefined;
  return new Promise((res) => {
    let stdout = "";
    let stderr = "";
    const result = (status: number | null, signal: NodeJS.Signals | null = null) => ({
      status,
      signal,
      stdout,
      stderr,
      ms: Date.now() - started,
      interrupt,
      exited,
    });
    child.stdout.on("data", (d) => {
      stdout += d;
      if (opts.untilLine && stdout.includes("\n")) res(result(null));
    });
    child.stderr.on("data", (d) => {
      stderr += d;
      if (kill && typeof kill.after !== "number" && kill.after.test(stderr)) fire();
      if (watch?.after.test(stderr)) {
        const act = watch.act;
        watch = undefined;
        act();
      }
      if (close?.after.test(stderr)) {
        child[close.stream].destroy();
        close = undefined;
      }
    });
    child.on("close", (status, signal) => {
      if (deadline) clearTimeout(deadline);
      res(result(status, signal));
    });
  });
}

/** The device's state as it reports it now (EMPTY, KEYED, ...), over its serial port. */
export async function deviceState(port: string): Promise<number> {
  const session = new DeviceSession(await openSerialTransport(port));
  try {
    await session.hello();
    return (await session.status()).state;
  } finally {
    await session.close();
  }
}

export { DEVICE_STATE };

/**
 * `--local` flags for a test's own local AWS IoT. The MQTT port is fixed when a
 * device provisioned by one process must reach the broker of the next one
 * (it keeps the port it was given); the other ports are any free ones.
 */
export function localArgs(stateDir: string, mqttPort = 0): string[] {
  return ["--local", "--local-ports", `0,${mqttPort},0`, "--local-state-dir", stateDir];
}

/** A port for that case, random so parallel runs do not collide. */
export function fixedMqttPort(): number {
  return 20_000 + Math.floor(Math.random() * 20_000);
}

/** The device's STATUS now (state, thing, committed certificate digest), over its serial port. */
export async function deviceStatus(port: string) {
  const session = new DeviceSession(await openSerialTransport(port));
  try {
    await session.hello();
    return await session.status();
  } finally {
    await session.close();
  }
}
