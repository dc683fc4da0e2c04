/**
 * One local AWS IoT per state directory. Two instances on one directory each
 * keep the registry in memory and write it whole, so one silently loses the
 * other's registrations. The lock file (`lock.json`: pid, kind, ports) makes
 * the second start fail naming the holder, and lets `provision --local`
 * attach to a running `provision local-iot` instead of starting its own.
 */
import { open, readFile, unlink } from "node:fs/promises";
import { join } from "node:path";
import { ProvisionError } from "../errors.js";
import { writeFileAtomic } from "./atomic-file.js";

export const LOCK_FILE = "lock.json";

/**
 * service: `provision local-iot` (or a test/soak harness), which others may
 * attach to; embedded: started by one `provision --local` run for itself.
 */
export type LockKind = "service" | "embedded";

export interface LockInfo {
  pid: number;
  kind: LockKind;
  startedAt: string;
  /** Filled in once the service listens. */
  controlPlaneUrl?: string;
  endpoint?: string;
  mqttsPort?: number;
  wssPort?: number;
  region?: string;
  accountId?: string;
}

export interface HeldLock {
  readonly file: string;
  /** Records where the running service listens (what an attaching client reads). */
  publish(info: Omit<LockInfo, "pid" | "kind" | "startedAt">): Promise<void>;
  release(): Promise<void>;
}

export function lockFileOf(stateDir: string): string {
  return join(stateDir, LOCK_FILE);
}

/** Whether a process with this pid exists (EPERM: it does, as another user). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

export async function readLock(stateDir: string): Promise<LockInfo | undefined> {
  let text: string;
  try {
    text = await readFile(lockFileOf(stateDir), "utf8");
  } catch (e) {
    // No directory yet (or a file in its way, which starting the service reports): no holder.
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") return undefined;
    throw e;
  }
  try {
    const v = JSON.parse(text) as LockInfo;
    return Number.isInteger(v.pid) && (v.kind === "service" || v.kind === "embedded") ? v : undefined;
  } catch {
    // Torn by a crash between create and write: no live holder can be named.
    return undefined;
  }
}

/** The live holder of the state dir, if any. */
export async function lockHolder(stateDir: string): Promise<LockInfo | undefined> {
  const info = await readLock(stateDir);
  return info && processAlive(info.pid) ? info : undefined;
}

export function describeHolder(h: LockInfo): string {
  const who = h.kind === "service" ? "`provision local-iot`" : "a `provision --local` run";
  const where = h.controlPlaneUrl
    ? ` (control plane ${h.controlPlaneUrl}, MQTT port ${h.mqttsPort}, WSS port ${h.wssPort})`
    : " (still starting)";
  return `${who}, pid ${h.pid}${where}`;
}

/**
 * Takes the state dir's lock, or fails naming the process that holds it. A
 * lock whose process is gone (killed, crashed) is taken over.
 */
export async function acquireLock(stateDir: string, kind: LockKind): Promise<HeldLock> {
  const file = lockFileOf(stateDir);
  const mine: LockInfo = { pid: process.pid, kind, startedAt: new Date().toISOString() };
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const h = await open(file, "wx", 0o600);
      try {
        await h.writeFile(`${JSON.stringify(mine)}\n`);
        await h.sync();
      } finally {
        await h.close();
      }
      return heldLock(file, mine);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
    }
    const holder = await lockHolder(stateDir);
    if (holder) {
      throw new ProvisionError(
        "CONFIG",
        `the local AWS IoT state dir ${stateDir} is in use by ${describeHolder(holder)}`,
        {
          where: file,
          hint:
            holder.kind === "service"
              ? "`provision --local` with the same --local-state-dir attaches to it; to start another instance, give it its own --state-dir"
              : "wait for that run to finish, or give this one another state dir",
          details: { holder },
        },
      );
    }
    // The holder is gone: its lock is stale.
    await unlink(file).catch(() => undefined);
  }
  throw new ProvisionError("CONFIG", `cannot take the lock ${file}: another process keeps taking it`, {
    where: file,
  });
}

function heldLock(file: string, mine: LockInfo): HeldLock {
  let current = mine;
  return {
    file,
    async publish(info) {
      current = { ...mine, ...info };
      await writeFileAtomic(file, `${JSON.stringify(current)}\n`, 0o600);
    },
    async release() {
      // Never remove a lock another process took over (ours went stale while we hung).
      const now = await readFile(file, "utf8").catch(() => "");
      if (now.includes(`"pid":${mine.pid},`) && now.includes(`"startedAt":"${mine.startedAt}"`))
        await unlink(file).catch(() => undefined);
    },
  };
}
