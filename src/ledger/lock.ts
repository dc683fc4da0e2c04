/**
 * One writer per ledger. Two processes appending to one ledger each judge
 * the other's run in progress as interrupted: a station (or `cleanup`)
 * started beside a live `provision` rolled back its registration and
 * deleted its certificate. `<ledger>.lock` names the holder (pid, host,
 * command, since when); a second process waits for it or refuses naming
 * it. A lock whose process is gone (SIGKILL, power cut) is taken over; one
 * held on another host cannot be judged from here and is never taken over.
 *
 * Within one process the lock is shared (a station's pipelines, its start-up
 * cleanup, tests opening a ledger twice): it counts its users.
 */
import { readFileSync } from "node:fs";
import { open, readFile, stat, unlink } from "node:fs/promises";
import { hostname } from "node:os";
import { resolve } from "node:path";
import { asProvisionError, ProvisionError } from "../errors.js";

/** How long a second process waits for the holder by default (`--ledger-wait`). */
export const LEDGER_LOCK_WAIT_MS_DEFAULT = 120_000;
const POLL_MS = 200;
/** A lock file whose holder cannot be read (torn by a crash right after create) is stale after this. */
const UNREADABLE_STALE_MS = 5_000;

export interface LedgerLockHolder {
  pid: number;
  host: string;
  /** What it runs, as typed (secrets never reach argv: see docs/configuration.md). */
  command: string;
  startedAt: string;
  /** The process's start time (Linux /proc, clock ticks since boot): tells a reused pid from the holder. */
  pidStart?: string;
}

export interface LockOptions {
  /** How long to wait for a live holder; 0: refuse at once. */
  waitMs?: number;
  /** Called once when the ledger is found held, with a line naming the holder. */
  onWait?: (text: string) => void;
  signal?: AbortSignal;
}

interface Held {
  users: number;
  file: string;
  mine: LedgerLockHolder;
}

const held = new Map<string, Held>();

/** The start time of a process, where Linux tells it (field 22 of /proc/PID/stat). */
function processStart(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
  } catch {
    return undefined;
  }
}

function alive(h: LedgerLockHolder): boolean {
  try {
    process.kill(h.pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "EPERM") return false;
  }
  const start = h.pidStart === undefined ? undefined : processStart(h.pid);
  return start === undefined || start === h.pidStart;
}

/** This process as the lock names it: the command line, any password in a URL masked. */
export function thisProcess(): LedgerLockHolder {
  const command = ["provision", ...process.argv.slice(2)]
    .join(" ")
    .replace(/(\/\/[^/:@\s]*:)[^@/\s]*@/g, "$1***@")
    .slice(0, 300);
  const pidStart = processStart(process.pid);
  return {
    pid: process.pid,
    host: hostname(),
    command,
    startedAt: new Date().toISOString(),
    ...(pidStart ? { pidStart } : {}),
  };
}

export function describeHolder(h: LedgerLockHolder): string {
  return `pid ${h.pid} on ${h.host} (${h.command}) since ${h.startedAt}`;
}

async function readHolder(lockFile: string): Promise<LedgerLockHolder | "unreadable" | undefined> {
  let text: string;
  try {
    text = await readFile(lockFile, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw e;
  }
  try {
    const v = JSON.parse(text) as LedgerLockHolder;
    return Number.isInteger(v.pid) && typeof v.host === "string" ? v : "unreadable";
  } catch {
    return "unreadable";
  }
}

async function tryCreate(lockFile: string, mine: LedgerLockHolder): Promise<boolean> {
  let h: Awaited<ReturnType<typeof open>>;
  try {
    h = await open(lockFile, "wx", 0o640);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw e;
  }
  try {
    await h.writeFile(`${JSON.stringify(mine)}\n`);
    await h.sync();
  } finally {
    await h.close();
  }
  return true;
}

/**
 * Removes a stale lock, under a second lock so that two processes finding
 * the same stale holder cannot both take over (one would remove the other's
 * fresh lock).
 */
async function removeStale(lockFile: string, seen: string): Promise<void> {
  const takeover = `${lockFile}.takeover`;
  if (!(await tryCreate(takeover, thisProcess()))) {
    const other = await readHolder(takeover);
    if (other === "unreadable" || (other !== undefined && other.host === hostname() && !alive(other)))
      await unlink(takeover).catch(() => undefined);
    return;
  }
  try {
    if ((await readFile(lockFile, "utf8").catch(() => "")) === seen) await unlink(lockFile);
  } finally {
    await unlink(takeover).catch(() => undefined);
  }
}

/**
 * Judges the lock file: a live holder to wait for, "young" for one still
 * being written (look again shortly), or undefined: gone, or stale and removed now.
 */
async function liveHolder(lockFile: string): Promise<LedgerLockHolder | "young" | undefined> {
  const holder = await readHolder(lockFile);
  if (holder === undefined) return undefined;
  if (holder === "unreadable") {
    const age = Date.now() - (await stat(lockFile).catch(() => ({ mtimeMs: 0 }))).mtimeMs;
    if (age < UNREADABLE_STALE_MS) return "young";
  } else if (holder.host !== hostname() || alive(holder)) {
    return holder;
  }
  await removeStale(lockFile, await readFile(lockFile, "utf8").catch(() => ""));
  return undefined;
}

function busy(file: string, lockFile: string, holder: LedgerLockHolder, waitedMs: number): ProvisionError {
  const elsewhere = holder.host !== hostname();
  return new ProvisionError(
    "CONFIG",
    `ledger ${file} is in use by ${describeHolder(holder)}${waitedMs > 0 ? `; waited ${Math.round(waitedMs / 1000)} s` : ""}`,
    {
      where: lockFile,
      hint: elsewhere
        ? `a ledger is written by one station at a time: give this one its own --ledger (the cloud keeps one certificate per thing across ledgers); if that process on ${holder.host} is gone, remove ${lockFile}`
        : "wait for it to finish (--ledger-wait SECONDS waits longer), or give this run its own --ledger; `provision cleanup` on a ledger in use would undo live runs, so it waits too",
      details: { ledgerHolder: holder },
    },
  );
}

export interface LedgerLock {
  release(): Promise<void>;
}

/** Takes the ledger's lock (waiting for a live holder up to `waitMs`), or throws naming the holder. */
export async function lockLedger(file: string, options: LockOptions = {}): Promise<LedgerLock> {
  const key = resolve(file);
  const lockFile = `${file}.lock`;
  const mine = held.get(key);
  if (mine) {
    mine.users++;
    return { release: () => releaseOne(key) };
  }
  const me = thisProcess();
  const waitMs = options.waitMs ?? LEDGER_LOCK_WAIT_MS_DEFAULT;
  const started = Date.now();
  let told = false;
  for (;;) {
    if (options.signal?.aborted) throw asProvisionError(options.signal.reason, "INTERRUPTED");
    if (await tryCreate(lockFile, me)) break;
    const holder = await liveHolder(lockFile);
    if (holder === undefined) continue;
    if (holder === "young") {
      await new Promise((r) => setTimeout(r, POLL_MS));
      continue;
    }
    const waited = Date.now() - started;
    if (waited >= waitMs) throw busy(file, lockFile, holder, waited);
    if (!told) {
      options.onWait?.(
        `ledger ${file} is in use by ${describeHolder(holder)}: waiting up to ${Math.round(waitMs / 1000)} s for it`,
      );
      told = true;
    }
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
  held.set(key, { users: 1, file: lockFile, mine: me });
  return { release: () => releaseOne(key) };
}

async function releaseOne(key: string): Promise<void> {
  const h = held.get(key);
  if (!h) return;
  if (--h.users > 0) return;
  held.delete(key);
  // Never remove a lock another process took over (ours was judged stale while this one hung).
  const now = await readHolder(h.file).catch(() => undefined);
  if (
    now !== undefined &&
    now !== "unreadable" &&
    now.pid === h.mine.pid &&
    now.startedAt === h.mine.startedAt
  )
    await unlink(h.file).catch(() => undefined);
}
