/**
 * Each emulated chip its own random numbers. Espressif's QEMU answers the
 * ESP32-C3's RNG register with the C library's rand(), seeded once with
 * srand(time(NULL)) (hw/riscv/esp32c3.c): chips started in the same second
 * read the same numbers and, their time being instruction-counted, make the
 * same keys. A real chip's RNG is its own, and the tool refuses a key
 * another device already has (src/ledger/prior-runs.ts), so emulated chips
 * sharing keys would not stand for real ones.
 *
 * The kit's QEMU is a prebuilt binary; a small library preloaded into it
 * mixes a per-run salt from the environment into srand()'s seed. It is
 * compiled with the host's C compiler once, cached by its source's hash.
 */
import { execFile } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, rename, rm } from "node:fs/promises";
import { join } from "node:path";
import { ProvisionError } from "../errors.js";

const SALT_VARIABLE = "PROVISION_QEMU_SRAND_SALT";

const SOURCE = `#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>

/* QEMU seeds rand() with the time in seconds; the salt makes the seed this run's own. */
void srand(unsigned int seed)
{
    void (*next)(unsigned int) = (void (*)(unsigned int))dlsym(RTLD_NEXT, "srand");
    const char *salt = getenv("${SALT_VARIABLE}");
    if (salt != NULL) {
        seed ^= (unsigned int)strtoul(salt, NULL, 10);
    }
    if (next != NULL) {
        next(seed);
    }
}
`;

let built: Promise<string> | undefined;

/** The preload library's path, compiling it on first use. */
export function seedLibrary(cacheDir: string): Promise<string> {
  built ??= compile(cacheDir).catch((e: unknown) => {
    built = undefined;
    throw e;
  });
  return built;
}

async function compile(cacheDir: string): Promise<string> {
  const hash = createHash("sha256").update(SOURCE).digest("hex").slice(0, 16);
  const lib = join(cacheDir, `qemu-srand-${hash}.so`);
  if (existsSync(lib)) return lib;
  await mkdir(cacheDir, { recursive: true });
  // Another process may compile at the same time: each writes its own file, the rename is atomic.
  const tmp = `${lib}.${process.pid}.${randomBytes(4).toString("hex")}`;
  const cc = process.env.CC ?? "cc";
  try {
    await new Promise<void>((done, fail) => {
      const child = execFile(cc, ["-shared", "-fPIC", "-O2", "-o", tmp, "-x", "c", "-", "-ldl"], (e) =>
        e ? fail(e) : done(),
      );
      child.stdin?.end(SOURCE);
    });
    await rename(tmp, lib);
  } catch (e) {
    await rm(tmp, { force: true });
    throw new ProvisionError("CONFIG", "cannot compile the emulated chip's RNG seeding library", {
      where: cc,
      hint: "the emulated chip needs a host C compiler (Debian: apt-get install gcc), or set CC",
      cause: e,
    });
  }
  return lib;
}

/** The environment for one QEMU run: the library preloaded, a fresh salt. */
export async function seededEnv(
  cacheDir: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<NodeJS.ProcessEnv> {
  const lib = await seedLibrary(cacheDir);
  return {
    ...env,
    LD_PRELOAD: env.LD_PRELOAD ? `${lib} ${env.LD_PRELOAD}` : lib,
    [SALT_VARIABLE]: String(randomBytes(4).readUInt32LE(0)),
  };
}
