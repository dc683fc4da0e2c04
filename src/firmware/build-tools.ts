/**
 * What the builds of the twin and the idf-linux device, and the kit unpack,
 * share: running a build tool with its output collected, and a lock between
 * processes around the work.
 */
import { spawn } from "node:child_process";
import { mkdir, rm, stat } from "node:fs/promises";
import { dirname } from "node:path";
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
