/**
 * Where a device is provisioned to: AWS IoT in an account, or the local AWS
 * IoT. Everything downstream (registry, credentials, observer) sees the same
 * shape, so the pipeline has no "if local" in it; the differences are only
 * which root CAs go to the device and how the observer reaches the broker.
 */
import { randomBytes } from "node:crypto";
import { fromNodeProviderChain } from "@aws-sdk/credential-providers";
import { readBoundedFile } from "../bounded-read.js";
import { amazonRootCaPem } from "../cloud/amazon-roots.js";
import { ProvisionError } from "../errors.js";
import type { LocalIotEndpoint } from "../local-iot/attach.js";
import type { FaultConfig } from "../local-iot/faults.js";
import type { LocalIot } from "../local-iot/service.js";
import { createObserver, type Observer, presignedObserverUrl } from "../observer/index.js";
import {
  type CloudRegistry,
  createAwsRegistry,
  type OperationRateLimiter,
  type RateLimits,
} from "../registry/index.js";
import { type QuotaReading, readIotQuotas } from "../registry/service-quotas.js";

export const MQTT_PORT_AWS = 8883;
export const WSS_PORT_AWS = 443;
/** Fixed ports for `--local`, so a device provisioned today still finds the broker tomorrow. */
export const LOCAL_PORTS_DEFAULT = { controlPlane: 4566, mqtts: 8883, wss: 8443 } as const;

export interface CloudTarget {
  kind: "aws" | "local";
  registry: CloudRegistry;
  region: string;
  /** Data endpoint host the device connects to (iot:Data-ATS on AWS). */
  endpoint(): Promise<string>;
  mqttPort: number;
  /** Root CAs written to the device for the endpoint. */
  rootCaPem: string;
  /** Connects an observer (MQTT over WSS, SigV4-presigned, refreshed on reconnect). */
  openObserver(clientId?: string): Promise<Observer>;
  /** Present for the local target: the service it talks to (started for it, attached to, or read from a file). */
  local?: LocalIotEndpoints;
  /** The account's rate quotas from Service Quotas, or AWS's defaults and why. */
  readQuotas(): Promise<QuotaReading>;
  close(): Promise<void>;
}

/** What a client needs of a running local AWS IoT (`provision local-iot --json` prints it). */
export type LocalIotEndpoints = Omit<LocalIotEndpoint, "stateDir">;

export interface TargetOptions {
  local?: boolean;
  localStateDir?: string;
  /** Ports for the local service; 0 = any free one (tests, demo). */
  localPorts?: { controlPlane: number; mqtts: number; wss: number };
  region?: string;
  profile?: string;
  endpointUrl?: string;
  /** Per-operation TPS limits (the station), or the station's own limiter; default none for one device. */
  rateLimit?: boolean | RateLimits | OperationRateLimiter;
  /** A running `provision local-iot`, described by its --json output in this file (instead of --local). */
  localIotInfo?: string;
  maxAttempts?: number;
}

/** Observers get their own client id: sharing the device's would disconnect the device. */
export function observerClientId(): string {
  return `provision-observer-${randomBytes(6).toString("hex")}`;
}

/** `info` hears what the caller should tell the user (e.g. that a running local AWS IoT was attached to). */
export async function openTarget(
  opts: TargetOptions,
  info: (text: string) => void = () => {},
): Promise<CloudTarget> {
  if (opts.localIotInfo !== undefined)
    return targetForLocalIot(await readLocalIotInfo(opts.localIotInfo), opts);
  return opts.local ? openLocalTarget(opts, info) : openAwsTarget(opts);
}

/** Reads `provision local-iot --json` output saved to a file; a bad file is a CONFIG error naming it. */
export async function readLocalIotInfo(file: string): Promise<LocalIotEndpoints> {
  const bad = (why: string, cause?: unknown) =>
    new ProvisionError("CONFIG", `${file} does not describe a running local AWS IoT: ${why}`, {
      where: file,
      hint: "save the output of `provision local-iot --json` to that file while the service runs",
      cause,
    });
  let info: Record<string, unknown>;
  try {
    info = JSON.parse(readBoundedFile(file, "config", "local AWS IoT description", "--local-iot-info"));
  } catch (e) {
    if (e instanceof ProvisionError) throw e;
    throw bad((e as Error).message, e);
  }
  const str = (k: string) => (typeof info[k] === "string" ? (info[k] as string) : undefined);
  const num = (k: string) => (Number.isInteger(info[k]) ? (info[k] as number) : undefined);
  const [controlPlaneUrl, endpoint, caFile, region, accessKeyId, secretAccessKey] = [
    "controlPlaneUrl",
    "endpoint",
    "caFile",
    "region",
    "accessKeyId",
    "secretAccessKey",
  ].map(str);
  const [mqttsPort, wssPort] = ["mqttsPort", "wssPort"].map(num);
  if (!controlPlaneUrl || !endpoint || !caFile || !region || !accessKeyId || !secretAccessKey)
    throw bad("controlPlaneUrl, endpoint, caFile, region, accessKeyId or secretAccessKey missing");
  if (!mqttsPort || !wssPort) throw bad("its MQTT broker is not running (mqttsPort / wssPort 0)");
  let caPem: string;
  try {
    caPem = readBoundedFile(caFile, "caBundle", "CA bundle", `--local-iot-info's caFile`);
  } catch (e) {
    if (e instanceof ProvisionError) throw e;
    throw bad(`its CA ${caFile} cannot be read: ${(e as Error).message}`, e);
  }
  return {
    controlPlaneUrl,
    endpoint,
    mqttsPort,
    wssPort,
    caPem,
    region,
    credentials: { accessKeyId, secretAccessKey },
    brokerRunning: true,
  };
}

/**
 * The local AWS IoT on the state dir: the `provision local-iot` already
 * serving it, else one started for this run. Loaded only here, so a run
 * against AWS never loads the broker or the local CA.
 */
async function openLocalTarget(opts: TargetOptions, info: (text: string) => void): Promise<CloudTarget> {
  const ports = opts.localPorts ?? LOCAL_PORTS_DEFAULT;
  const stateDir = opts.localStateDir ?? ".state/local-iot";
  const { FAULTS_ENV, faultConfigFromEnv } = await import("../local-iot/faults.js");
  const attached = await (await import("../local-iot/attach.js")).attachToRunning(stateDir);
  if (attached) {
    info(
      `attached to the local AWS IoT already running on ${attached.stateDir} (pid ${attached.pid}): control plane ${attached.controlPlaneUrl}, MQTT port ${attached.mqttsPort}`,
    );
    if (ports.mqtts !== 0 && ports.mqtts !== attached.mqttsPort)
      info(
        `--local-ports asks for MQTT port ${ports.mqtts}; devices provisioned now get the running service's ${attached.mqttsPort}`,
      );
    if (process.env[FAULTS_ENV]) info(`${FAULTS_ENV} is ignored: the running service has its own faults`);
    return targetForLocalIot(attached, opts);
  }
  let faults: FaultConfig | undefined;
  try {
    // Factory dry runs rehearse a throttling or failing cloud with the same switch as `provision local-iot`.
    faults = faultConfigFromEnv();
  } catch (e) {
    throw new ProvisionError("CONFIG", (e as Error).message, { where: FAULTS_ENV });
  }
  let iot: LocalIot;
  try {
    iot = await (await import("../local-iot/service.js")).startLocalIot({
      faults,
      stateDir,
      port: ports.controlPlane,
      mqttsPort: ports.mqtts,
      wssPort: ports.wss,
      // This run's own instance: it stops with the run, so nobody else may attach to it.
      lockKind: "embedded",
    });
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code === "EADDRINUSE") {
      throw new ProvisionError("CONFIG", `a port of the local AWS IoT is already in use: ${String(e)}`, {
        where: "local AWS IoT",
        hint: "stop the other `provision local-iot` / `provision --local`, or choose other ports",
        cause: e,
      });
    }
    if (code !== undefined && /^E[A-Z]+$/.test(code) && (e as { path?: string }).path !== undefined) {
      // ENOTDIR, EACCES, EROFS, ENOSPC on the state directory: the user's path, not a bug.
      throw new ProvisionError("CONFIG", `the local AWS IoT cannot use its state directory: ${String(e)}`, {
        where: (e as { path: string }).path,
        hint: "give --local-state-dir a writable directory",
        cause: e,
      });
    }
    throw e;
  }
  return targetForLocalIot(iot, opts, async () => iot.stop());
}

/** A target over an already running local AWS IoT (tests, demo, station benchmark, an attached service, --local-iot-info). */
export async function targetForLocalIot(
  iot: LocalIotEndpoints,
  opts: Pick<TargetOptions, "rateLimit" | "maxAttempts"> = {},
  onClose: () => Promise<void> = async () => {},
): Promise<CloudTarget> {
  if (!iot.brokerRunning) {
    throw new ProvisionError("INTERNAL", "the local AWS IoT started without its MQTT broker", {
      where: iot.controlPlaneUrl,
    });
  }
  const registry = await createAwsRegistry({
    region: iot.region,
    endpoint: iot.controlPlaneUrl,
    credentials: iot.credentials,
    rateLimit: opts.rateLimit,
    maxAttempts: opts.maxAttempts,
  });
  return {
    kind: "local",
    registry,
    region: iot.region,
    endpoint: async () => iot.endpoint,
    mqttPort: iot.mqttsPort,
    rootCaPem: iot.caPem,
    local: iot,
    // The local service answers Service Quotas on its control plane, from its configured limits.
    readQuotas: () =>
      readIotQuotas({
        region: iot.region,
        credentials: { ...iot.credentials },
        endpoint: iot.controlPlaneUrl,
      }),
    openObserver: (clientId = observerClientId()) =>
      createObserver({
        clientId,
        ca: iot.caPem,
        url: presignedObserverUrl({
          host: iot.endpoint,
          port: iot.wssPort,
          region: iot.region,
          credentials: iot.credentials,
        }),
      }),
    async close() {
      await registry.close();
      await onClose();
    },
  };
}

async function openAwsTarget(opts: TargetOptions): Promise<CloudTarget> {
  const registry = await createAwsRegistry({
    region: opts.region,
    profile: opts.profile,
    endpoint: opts.endpointUrl,
    rateLimit: opts.rateLimit,
    maxAttempts: opts.maxAttempts,
  });
  let endpointHost: string | undefined;
  const endpoint = async () => {
    endpointHost ??= await registry.describeEndpoint();
    return endpointHost;
  };
  // Same chain as the SDK client: the observer signs as the same identity.
  const credentials = fromNodeProviderChain(opts.profile ? { profile: opts.profile } : {});
  return {
    kind: "aws",
    registry,
    region: registry.region,
    endpoint,
    mqttPort: MQTT_PORT_AWS,
    rootCaPem: amazonRootCaPem(),
    readQuotas: () => readIotQuotas({ region: registry.region, credentials, profile: opts.profile }),
    openObserver: async (clientId = observerClientId()) =>
      createObserver({
        clientId,
        url: presignedObserverUrl({ host: await endpoint(), region: registry.region, credentials }),
      }),
    async close() {
      await registry.close();
    },
  };
}
