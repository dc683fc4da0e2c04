/**
 * A real `provision local-iot` process for tests and the soak: the service
 * other CLI processes attach to with `--local --local-state-dir DIR`, which
 * can be killed like any process (SIGKILL = a crash of the service).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { IoTClient } from "@aws-sdk/client-iot";
import { ensureTwinBuilt, startTwin, type Twin, type TwinOptions } from "../src/twin/index.js";
import { BIN, fixedMqttPort, localArgs } from "./cli.test-helper.js";

export interface LocalIotInfo {
  controlPlaneUrl: string;
  endpoint: string;
  mqttsPort: number;
  wssPort: number;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  stateDir: string;
}

export interface LocalIotProcess {
  info: LocalIotInfo;
  pid: number;
  /** Resolves with the exit status (or the signal) once the process is gone. */
  exited: Promise<{ status: number | null; signal: NodeJS.Signals | null }>;
  stderr(): string;
  kill(signal?: NodeJS.Signals): Promise<{ status: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts `provision local-iot --json` and resolves once it printed where it listens. */
export async function startLocalIotProcess(
  stateDir: string,
  opts: { cwd: string; mqttPort?: number; env?: NodeJS.ProcessEnv; args?: string[] },
): Promise<LocalIotProcess> {
  const args = [BIN, "local-iot", "--state-dir", stateDir, "--json", ...(opts.args ?? [])];
  if (opts.mqttPort !== undefined) args.push("--mqtt-port", String(opts.mqttPort));
  const child: ChildProcess = spawn(process.execPath, args, {
    cwd: opts.cwd,
    env: {
      PATH: process.env.PATH,
      HOME: opts.cwd,
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
      ...opts.env,
    },
  });
  let err = "";
  child.stderr?.on("data", (d) => {
    err += d;
  });
  const exited = new Promise<{ status: number | null; signal: NodeJS.Signals | null }>((res) =>
    child.on("close", (status, signal) => res({ status, signal })),
  );
  const line = await new Promise<string>((res, rej) => {
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).once("line", res);
    void exited.then((e) =>
      rej(new Error(`local-iot exited (${e.status ?? e.signal}) before it was ready: ${err}`)),
    );
  });
  return {
    info: JSON.parse(line) as LocalIotInfo,
    pid: child.pid as number,
    exited,
    stderr: () => err,
    async kill(signal = "SIGTERM") {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

/** A real SDK client on the service, as any AWS tool would use it. */
export function iotClient(info: LocalIotInfo): IoTClient {
  return new IoTClient({
    endpoint: info.controlPlaneUrl,
    region: info.region,
    credentials: { accessKeyId: info.accessKeyId, secretAccessKey: info.secretAccessKey },
    maxAttempts: 5,
  });
}

/**
 * What the CLI crash tests share: a temp dir, one `provision local-iot`
 * process on a fixed MQTT port (devices keep the port they were given), an
 * SDK client on it, and twins that are stopped at the end.
 */
export interface ServiceFixture {
  dir: string;
  iot: LocalIotProcess;
  client: IoTClient;
  /** `--local` flags that attach to the service. */
  local: string[];
  twins: Twin[];
  twin(name: string, options?: Omit<TwinOptions, "stateDir">): Promise<Twin>;
  close(): Promise<void>;
}

/** `env`: for the service process (e.g. PROVISION_LOCAL_IOT_FAULTS). */
export async function serviceFixture(prefix: string, env: NodeJS.ProcessEnv = {}): Promise<ServiceFixture> {
  await ensureTwinBuilt();
  const dir = await mkdtemp(join(tmpdir(), prefix));
  const mqttPort = fixedMqttPort();
  const iot = await startLocalIotProcess(join(dir, "iot"), { cwd: dir, mqttPort, env });
  const client = iotClient(iot.info);
  const twins: Twin[] = [];
  return {
    dir,
    iot,
    client,
    local: localArgs(join(dir, "iot"), mqttPort),
    twins,
    async twin(name, options = {}) {
      const t = await startTwin({ ...options, stateDir: join(dir, name) });
      twins.push(t);
      return t;
    },
    async close() {
      await Promise.all(twins.map((t) => t.stop()));
      client.destroy();
      await iot.kill("SIGTERM");
      await rm(dir, { recursive: true, force: true });
    },
  };
}
