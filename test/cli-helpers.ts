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
  uid?: number;
  gid?: number;
}

export function runCli(args: string[], opts: CliOptions): Promise<CliRun> {
  const started = Date.now();
  const base: NodeJS.ProcessEnv = opts.inheritEnv
    ? { ...process.env }
    : { PATH: process.env.PATH, HOME: opts.cwd, AWS_EC2_METADATA_DISABLED: "true" };
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: opts.cwd,
    env: { ...base, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true", ...opts.env },
    ...(opts.uid !== undefined ? { uid: opts.uid } : {}),
    ...(opts.gid !== undefined ? { gid: opts.gid } : {}),
  });
  const interrupt = () => child.kill("SIGINT");
  const exited = new Promise<number | null>((done) => child.once("close", (status) => done(status)));
  return new Promise((res) => {
    let stdout = "";
    let stderr = "";
    const result = (status: number | null) => ({
      status,
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
    });
    child.on("close", (status) => res(result(status)));
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
