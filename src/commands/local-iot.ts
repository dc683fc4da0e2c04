import { join } from "node:path";
import { ProvisionError } from "../errors.js";
import { type FaultConfig, faultConfigFromEnv } from "../local-iot/faults.js";
import { describeForClients, type LocalIot, startLocalIot } from "../local-iot/service.js";
import { whenInterrupted } from "../provision/interruption.js";
import { interrupt } from "./interrupt.js";

export interface LocalIotCommandOptions {
  port?: number;
  mqttPort?: number;
  wssPort?: number;
  stateDir?: string;
  json?: boolean;
}

/**
 * Runs until SIGINT/SIGTERM/SIGHUP, then stops cleanly (state is already on
 * disk, the lock is released); the CLI then exits 130/143/129 like every long command.
 */
export async function localIotCommand(opts: LocalIotCommandOptions): Promise<void> {
  const iot = await runLocalIotCommand({
    port: opts.port,
    mqttsPort: opts.mqttPort,
    wssPort: opts.wssPort,
    stateDir: opts.stateDir,
    json: opts.json,
  });
  // The signal may have come while the service was starting or printing (a script that stops it as
  // soon as it has read the output): whenInterrupted resolves at once then.
  await whenInterrupted(interrupt.signal);
  await iot.stop();
}

export interface LocalIotCliOptions {
  port?: number;
  mqttsPort?: number;
  wssPort?: number;
  stateDir?: string;
  json?: boolean;
  /** Control plane only (`--no-broker`). */
  noBroker?: boolean;
}

/** Default state directory for the CLI: per user, survives reboots. */
export function defaultStateDir(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_STATE_HOME ?? join(env.HOME ?? ".", ".local", "state");
  return join(base, "provision", "local-iot");
}

/**
 * `provision local-iot [--port N] [--state-dir DIR] [--json]`: starts the
 * service, prints what clients need on stdout (one JSON object with --json)
 * and returns the running service; the caller keeps the process alive and
 * calls stop() on SIGINT/SIGTERM. Faults come from PROVISION_LOCAL_IOT_FAULTS.
 */
export async function runLocalIotCommand(
  options: LocalIotCliOptions,
  out: { stdout: (s: string) => void; stderr: (s: string) => void } = {
    stdout: (s) => process.stdout.write(s),
    stderr: (s) => process.stderr.write(s),
  },
): Promise<LocalIot> {
  let faults: FaultConfig | undefined;
  try {
    faults = faultConfigFromEnv();
  } catch (e) {
    throw new ProvisionError("CONFIG", (e as Error).message, {
      where: "PROVISION_LOCAL_IOT_FAULTS",
      hint: 'set it to JSON like {"seed":1,"default":{"throttleRate":0.1},"operations":{"CreateCertificateFromCsr":{"maxRps":15}}}',
    });
  }
  const stateDir = options.stateDir ?? defaultStateDir();
  let iot: LocalIot;
  try {
    iot = await startLocalIot({
      stateDir,
      port: options.port ?? 0,
      mqttsPort: options.mqttsPort ?? 0,
      wssPort: options.wssPort ?? 0,
      faults,
      withoutBroker: options.noBroker,
    });
  } catch (e) {
    if ((e as { code?: string }).code === "EADDRINUSE") {
      throw new ProvisionError("CONFIG", `port already in use: ${(e as Error).message}`, {
        where: "local-iot",
        hint: "choose another --port, or stop the other local-iot instance",
        cause: e,
      });
    }
    const path = (e as { path?: string }).path;
    if (path !== undefined && /^E[A-Z]+$/.test((e as { code?: string }).code ?? "")) {
      // ENOTDIR, EACCES, EROFS, ENOSPC on --state-dir: the user's path, not a bug.
      throw new ProvisionError("CONFIG", `cannot use the state directory: ${(e as Error).message}`, {
        where: path,
        hint: "give --state-dir a writable directory",
        cause: e,
      });
    }
    throw e;
  }
  const info = describeForClients(iot);
  if (options.json) {
    out.stdout(`${JSON.stringify(info)}\n`);
  } else {
    const lines = [
      `control plane   ${iot.controlPlaneUrl}`,
      `data endpoint   ${iot.endpoint}  (mqtts port ${iot.mqttsPort || "not running"}, wss port ${iot.wssPort || "not running"})`,
      `CA certificate  ${iot.caFile}`,
      `region/account  ${iot.region} / ${iot.accountId}`,
      `state dir       ${iot.stateDir}`,
      "",
      "for AWS clients:",
      `  export AWS_ENDPOINT_URL_IOT=${iot.controlPlaneUrl}`,
      `  export AWS_ACCESS_KEY_ID=${iot.credentials.accessKeyId}`,
      `  export AWS_SECRET_ACCESS_KEY=${iot.credentials.secretAccessKey}`,
      `  export AWS_REGION=${iot.region}`,
      `  export AWS_DEFAULT_REGION=${iot.region}`,
    ];
    out.stdout(`${lines.join("\n")}\n`);
  }
  if (!iot.brokerRunning)
    out.stderr("local-iot: MQTT broker not started (--no-broker); control plane only\n");
  if (faults) out.stderr(`local-iot: fault injection active: ${JSON.stringify(faults)}\n`);
  return iot;
}
