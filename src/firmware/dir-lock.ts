/**
 * A lock between processes (vitest workers, parallel CLI runs) around a build
 * or an unpack: a directory, because mkdir is atomic. A lock older than
 * `staleMs` is taken to be left by a killed process and removed.
 */
import { mkdir, rm, stat } from "node:fs/promises";
import { dirname } from "node:path";
import { ProvisionError } from "../errors.js";

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
