/**
 * The local AWS IoT service: control plane (HTTP, restJson1, SigV4), local
 * CA, persistent store of things, certificates and policies, fault injection and, when present, the MQTT
 * broker. Usable in-process (tests) and from `provision local-iot`.
 */
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, readFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { ProvisionError } from "../errors.js";
import { writeFileAtomic } from "./atomic-file.js";
import { CREDENTIALS_FILE } from "./attach.js";
import { type RunningBroker, startBroker } from "./broker/index.js";
import { CA_CERT_FILE, LocalCa } from "./ca.js";
import { startControlPlane } from "./control-plane.js";
import { type FaultConfig, FaultInjector, type FaultStats } from "./faults.js";
import { acquireLock, type HeldLock, type LockKind } from "./lock.js";
import type { LocalCredentials } from "./sigv4-verify.js";
import { IotStore } from "./store.js";
import type { StoreView } from "./types.js";

export { CREDENTIALS_FILE } from "./attach.js";
export const REGION_DEFAULT = "us-east-1";
export const ACCOUNT_ID_DEFAULT = "123456789012";
export const HOST_DEFAULT = "127.0.0.1";

export interface LocalIotOptions {
  host?: string;
  /** Control-plane HTTP port; 0 picks a free one. */
  port?: number;
  mqttsPort?: number;
  wssPort?: number;
  stateDir: string;
  region?: string;
  accountId?: string;
  /** Overrides the per-state-dir credentials (which are generated on first start). */
  credentials?: LocalCredentials;
  faults?: FaultConfig;
  /** Delay before DetachThingPrincipal takes effect (AWS: asynchronous, seconds). */
  detachDelayMs?: number;
  /** Start without the MQTT broker (control plane only). */
  withoutBroker?: boolean;
  /**
   * The state dir's lock (lock.ts): "service" (default) lets `provision --local` attach to this
   * instance; "embedded" is one run's own instance, which others must not attach to.
   */
  lockKind?: LockKind;
}

export interface LocalIot {
  controlPlaneUrl: string;
  /** Host name devices connect to (what DescribeEndpoint iot:Data-ATS returns). */
  endpoint: string;
  /** 0 when the broker is not running. */
  mqttsPort: number;
  wssPort: number;
  caFile: string;
  caPem: string;
  region: string;
  accountId: string;
  credentials: LocalCredentials;
  stateDir: string;
  store: StoreView;
  /** Whether the MQTT broker is running (false with withoutBroker). */
  brokerRunning: boolean;
  setFaults(config: FaultConfig): void;
  stats(): FaultStats;
  stop(): Promise<void>;
}

const ALNUM_UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

function randomFrom(alphabet: string, n: number): string {
  const bytes = randomBytes(n);
  return Array.from(bytes, (b) => alphabet[b % alphabet.length]).join("");
}

/** Fixed per state dir so clients configured once keep working across restarts. */
async function loadOrCreateCredentials(stateDir: string): Promise<LocalCredentials> {
  const path = join(stateDir, CREDENTIALS_FILE);
  if (existsSync(path)) {
    const parsed = JSON.parse(await readFile(path, "utf8")) as LocalCredentials;
    if (typeof parsed.accessKeyId === "string" && typeof parsed.secretAccessKey === "string") return parsed;
    throw new ProvisionError("CONFIG", `${path} does not hold accessKeyId and secretAccessKey`, {
      where: path,
      hint: "delete the file to generate new local credentials",
    });
  }
  const creds: LocalCredentials = {
    // Same length and alphabet as real access key ids, marked LOCAL so nobody mistakes them.
    accessKeyId: `AKIDLOCAL${randomFrom(ALNUM_UPPER, 11)}`,
    secretAccessKey: randomBytes(30).toString("base64"),
  };
  await writeFileAtomic(path, `${JSON.stringify(creds, null, 2)}\n`, 0o600);
  return creds;
}

export async function startLocalIot(options: LocalIotOptions): Promise<LocalIot> {
  const accountId = options.accountId ?? ACCOUNT_ID_DEFAULT;
  if (!/^\d{12}$/.test(accountId))
    throw new TypeError(`accountId must be 12 digits, got ${JSON.stringify(accountId)}`);
  const stateDir = resolve(options.stateDir);
  await mkdir(stateDir, { recursive: true, mode: 0o700 });
  const lock = await acquireLock(stateDir, options.lockKind ?? "service");
  try {
    return await startLocked(options, stateDir, lock);
  } catch (e) {
    await lock.release();
    throw e;
  }
}

async function startLocked(options: LocalIotOptions, stateDir: string, lock: HeldLock): Promise<LocalIot> {
  const host = options.host ?? HOST_DEFAULT;
  const region = options.region ?? REGION_DEFAULT;
  const accountId = options.accountId ?? ACCOUNT_ID_DEFAULT;
  const given = options.credentials ?? (await loadOrCreateCredentials(stateDir));
  const credentials: LocalCredentials = {
    accessKeyId: given.accessKeyId,
    secretAccessKey: given.secretAccessKey,
  };
  const ca = await LocalCa.openOrCreate(stateDir);
  const store = new IotStore({ stateDir, region, accountId, detachDelayMs: options.detachDelayMs });
  const faults = new FaultInjector(options.faults ?? {});
  // 127.0.0.1 rather than localhost: "localhost" may resolve to ::1 first, where nothing listens.
  const endpoint = host === "0.0.0.0" || host === "::" ? HOST_DEFAULT : host;

  const controlPlane = await startControlPlane({
    host,
    port: options.port ?? 0,
    region,
    credentials,
    faults,
    accountId,
    context: { store, ca, dataEndpoint: endpoint },
  });

  let broker: RunningBroker | undefined;
  try {
    if (!options.withoutBroker) {
      const server = await ca.serverCertificate(stateDir);
      broker = await startBroker(store, {
        host,
        mqttsPort: options.mqttsPort ?? 0,
        wssPort: options.wssPort ?? 0,
        serverCert: server.certPem,
        serverKey: server.keyPem,
        caPem: ca.certPem,
        credentials,
      });
    }
    await lock.publish({
      controlPlaneUrl: controlPlane.url,
      endpoint,
      mqttsPort: broker?.mqttsPort ?? 0,
      wssPort: broker?.wssPort ?? 0,
      region,
      accountId,
    });
  } catch (e) {
    await Promise.allSettled([controlPlane.close(), broker?.close()]);
    await store.close();
    throw e;
  }

  let stopped = false;
  return {
    controlPlaneUrl: controlPlane.url,
    endpoint,
    mqttsPort: broker?.mqttsPort ?? 0,
    wssPort: broker?.wssPort ?? 0,
    caFile: join(stateDir, CA_CERT_FILE),
    caPem: ca.certPem,
    region,
    accountId,
    // A copy: the SDK writes bookkeeping fields into credential objects it is given.
    credentials: { accessKeyId: credentials.accessKeyId, secretAccessKey: credentials.secretAccessKey },
    stateDir,
    store,
    brokerRunning: broker !== undefined,
    setFaults: (config) => faults.set(config),
    stats: () => faults.stats(),
    async stop() {
      if (stopped) return;
      stopped = true;
      await Promise.allSettled([controlPlane.close(), broker?.close()]);
      await store.close();
      await lock.release();
    },
  };
}

/** What a client needs, as printed by `provision local-iot`. */
export function describeForClients(iot: LocalIot): Record<string, unknown> {
  return {
    controlPlaneUrl: iot.controlPlaneUrl,
    endpoint: iot.endpoint,
    mqttsPort: iot.mqttsPort,
    wssPort: iot.wssPort,
    caFile: iot.caFile,
    region: iot.region,
    accountId: iot.accountId,
    accessKeyId: iot.credentials.accessKeyId,
    secretAccessKey: iot.credentials.secretAccessKey,
    stateDir: iot.stateDir,
    brokerRunning: iot.brokerRunning,
    env: {
      AWS_ENDPOINT_URL_IOT: iot.controlPlaneUrl,
      AWS_ACCESS_KEY_ID: iot.credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: iot.credentials.secretAccessKey,
      AWS_REGION: iot.region,
      // The AWS CLI v1 reads only AWS_DEFAULT_REGION; the SDKs and the CLI v2 read AWS_REGION.
      AWS_DEFAULT_REGION: iot.region,
    },
  };
}
