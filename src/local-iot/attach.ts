/**
 * `provision --local` next to a running `provision local-iot` on the same
 * state dir: instead of a second instance (which the lock refuses, and which
 * would lose registrations), the run becomes one more client of the running
 * one, reading where it listens from its lock and its CA and local
 * credentials from the state dir.
 */
import { readFile } from "node:fs/promises";
import { connect } from "node:net";
import { join, resolve } from "node:path";
import { ProvisionError } from "../errors.js";
import { CA_CERT_FILE } from "./ca.js";
import { describeHolder, type LockInfo, lockFileOf, lockHolder } from "./lock.js";
import type { LocalCredentials } from "./sigv4-verify.js";

export const CREDENTIALS_FILE = "credentials.json";
/** A service whose lock has no ports yet is still starting: wait this long for them. */
export const ATTACH_WAIT_MS = 10_000;
const CONNECT_CHECK_MS = 2000;

/** What a client needs of a local AWS IoT, running in this process or attached to. */
export interface LocalIotEndpoint {
  controlPlaneUrl: string;
  endpoint: string;
  mqttsPort: number;
  wssPort: number;
  caPem: string;
  region: string;
  credentials: LocalCredentials;
  stateDir: string;
  brokerRunning: boolean;
}

export interface AttachedLocalIot extends LocalIotEndpoint {
  /** The process serving it. */
  pid: number;
}

function answers(url: string): Promise<boolean> {
  const { hostname, port } = new URL(url);
  return new Promise((done) => {
    const socket = connect({ host: hostname, port: Number(port) });
    const finish = (ok: boolean) => {
      socket.destroy();
      done(ok);
    };
    socket.setTimeout(CONNECT_CHECK_MS, () => finish(false));
    socket.once("connect", () => finish(true));
    socket.once("error", () => finish(false));
  });
}

async function listening(stateDir: string): Promise<LockInfo | undefined> {
  const until = Date.now() + ATTACH_WAIT_MS;
  for (;;) {
    const holder = await lockHolder(stateDir);
    if (holder?.kind !== "service") return holder;
    if (holder.controlPlaneUrl !== undefined || Date.now() > until) return holder;
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * The `provision local-iot` serving this state dir, if one runs; undefined
 * when none does (the caller starts its own). A run of another kind holding
 * the dir, or a holder that does not answer, is an error naming it.
 */
export async function attachToRunning(stateDirGiven: string): Promise<AttachedLocalIot | undefined> {
  const stateDir = resolve(stateDirGiven);
  const holder = await listening(stateDir);
  if (holder === undefined) return undefined;
  const where = lockFileOf(stateDir);
  if (
    holder.kind !== "service" ||
    holder.controlPlaneUrl === undefined ||
    !(await answers(holder.controlPlaneUrl))
  ) {
    throw new ProvisionError(
      "CONFIG",
      `the local AWS IoT state dir ${stateDir} is in use by ${describeHolder(holder)}`,
      {
        where,
        hint:
          holder.kind === "service"
            ? `it does not answer: if pid ${holder.pid} is not a local AWS IoT, delete ${where}`
            : "wait for that run to finish, or start `provision local-iot` on the state dir and let every run attach to it",
        details: { holder },
      },
    );
  }
  const credentials = JSON.parse(
    await readFile(join(stateDir, CREDENTIALS_FILE), "utf8"),
  ) as LocalCredentials;
  return {
    pid: holder.pid,
    controlPlaneUrl: holder.controlPlaneUrl,
    endpoint: holder.endpoint ?? "127.0.0.1",
    mqttsPort: holder.mqttsPort ?? 0,
    wssPort: holder.wssPort ?? 0,
    caPem: await readFile(join(stateDir, CA_CERT_FILE), "utf8"),
    region: holder.region ?? "us-east-1",
    credentials: { accessKeyId: credentials.accessKeyId, secretAccessKey: credentials.secretAccessKey },
    stateDir,
    brokerRunning: (holder.mqttsPort ?? 0) > 0,
  };
}
