/**
 * What the builds of the twin and the idf-linux device, and the kit unpack,
 * share: running a build tool with its output collected, and a lock between
 * processes around the work.
 */
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, renameSync, rmSync } from "node:fs";
import { mkdir, rm, stat } from "node:fs/promises";
import { dirname, join } from "node:path";
import { ProvisionError } from "../errors.js";

export interface ToolRun {
  /** Exit status; null when killed, or when it could not start (see spawnError). */
  code: number | null;
  /** stdout and stderr as they came. */
  output: string;
  spawnError?: Error;
}

/** Runs a build tool (make, cmake, ninja, tar) to completion; never rejects. */
export function runTool(
  cmd: string,
  args: string[],
  opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<ToolRun> {
  return new Promise((done) => {
    let output = "";
    const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env, stdio: ["ignore", "pipe", "pipe"] });
    const collect = (b: Buffer) => {
      output += b.toString();
    };
    child.stdout.on("data", collect);
    child.stderr.on("data", collect);
    child.on("error", (spawnError) => done({ code: null, output, spawnError }));
    child.on("close", (code) => done({ code, output }));
  });
}

/**
 * A lock between processes (vitest workers, parallel CLI runs): a directory,
 * because mkdir is atomic. A lock older than `staleMs` is taken to be left by
 * a killed process and removed.
 */
export async function withDirLock<T>(
  lock: string,
  opts: { staleMs: number; what: string; pollMs?: number },
  fn: () => Promise<T>,
): Promise<T> {
  await mkdir(dirname(lock), { recursive: true });
  const started = Date.now();
  for (;;) {
    try {
      await mkdir(lock);
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
      const age = Date.now() - (await stat(lock).catch(() => ({ mtimeMs: Date.now() }))).mtimeMs;
      if (age > opts.staleMs) await rm(lock, { recursive: true, force: true });
      if (Date.now() - started > opts.staleMs)
        throw new ProvisionError("INTERNAL", `the ${opts.what} lock has been held for too long`, {
          where: lock,
          hint: `remove the directory if no ${opts.what} is running`,
        });
      await new Promise((r) => setTimeout(r, opts.pollMs ?? 200));
    }
  }
  try {
    return await fn();
  } finally {
    await rm(lock, { recursive: true, force: true });
  }
}

const UNPACK_LOCK_STALE_MS = 10 * 60_000;

/**
 * A kit tarball (ESP-IDF, the emulated chip) unpacked once into `target`,
 * through a temporary folder and a rename so that a killed unpack never
 * looks finished. `inner`: the tarball's top folder, whose content becomes
 * `target`; `readyFile`: a file (relative to target) that only a finished
 * unpack has.
 */
export async function unpackOnce(opts: {
  tarball: string;
  target: string;
  inner: string;
  readyFile: string;
  what: string;
  missingHint: string;
  onProgress?: (text: string) => void;
}): Promise<string> {
  const { tarball, target } = opts;
  const ready = () => existsSync(join(target, opts.readyFile));
  if (ready()) return target;
  if (!existsSync(tarball))
    throw new ProvisionError("CONFIG", `${opts.what} is not available`, {
      where: tarball,
      hint: opts.missingHint,
    });
  return withDirLock(
    `${target}.lock`,
    { staleMs: UNPACK_LOCK_STALE_MS, what: `${opts.what} unpack` },
    async () => {
      if (ready()) return target; // another process unpacked it meanwhile
      const tmp = `${target}.tmp-${process.pid}`;
      rmSync(tmp, { recursive: true, force: true });
      mkdirSync(tmp, { recursive: true });
      opts.onProgress?.(`unpacking ${opts.what} into ${target}`);
      const r = await runTool("tar", ["-xJf", tarball, "-C", tmp], {});
      if (r.code !== 0) {
        rmSync(tmp, { recursive: true, force: true });
        throw new ProvisionError("CONFIG", `cannot unpack ${opts.what} (tar exit ${r.code})`, {
          where: tarball,
          hint: "needs tar and xz-utils, and free space under build/",
          deviceLog: r.output.trim().split("\n").slice(-5),
        });
      }
      const inner = join(tmp, opts.inner);
      rmSync(target, { recursive: true, force: true });
      renameSync(existsSync(inner) ? inner : tmp, target);
      rmSync(tmp, { recursive: true, force: true });
      return target;
    },
  );
}
