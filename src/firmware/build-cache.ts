/**
 * What the builds with ESP-IDF share (the idf-linux device, a product built
 * for the linux target, the chip images): one build folder per project and
 * ESP-IDF, skipped entirely when a stamp holds the hash of every input that
 * is not ESP-IDF's own tree; one build at a time per folder (a lock between
 * processes, a promise within one); and a new sdkconfig whenever a file it
 * is made from changed.
 */
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { basename, join, relative, sep } from "node:path";
import { PACKAGE_ROOT } from "../package-root.js";
import { withDirLock } from "./build-tools.js";
import { BUILD_CACHE_ROOT, type Idf } from "./idf.js";
import { FIRMWARE_TEMPLATES_DIR_DEFAULT, RENDERER_SOURCE } from "./render.js";

const LOCK_STALE_MS = 15 * 60_000;

/** Every file under `dir` (sorted), leaving out build folders (a product's own build/). */
export function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, encoding: "utf8" })
    .filter((f) => !f.split(sep).includes("build"))
    .map((f) => join(dir, f))
    .filter((f) => statSync(f).isFile())
    .sort();
}

/** The component and the core every build here contains. */
export function componentInputs(): string[] {
  return [
    ...filesUnder(join(FIRMWARE_TEMPLATES_DIR_DEFAULT, "esp-idf")),
    ...filesUnder(join(FIRMWARE_TEMPLATES_DIR_DEFAULT, "core", "include")),
    ...filesUnder(join(FIRMWARE_TEMPLATES_DIR_DEFAULT, "core", "src")),
  ];
}

/** The inputs of a rendered board project: the component and core, the board file, the renderer. */
export function renderedInputs(boardId: string): string[] {
  // the renderer decides which files and values go in
  return [...componentInputs(), join(PACKAGE_ROOT, "boards", `${boardId}.json`), RENDERER_SOURCE];
}

/** Hash of `inputs` (their paths and contents), the ESP-IDF, and `text` (a key store, fragments chosen). */
export function inputsHash(idf: Idf, inputs: string[], text = ""): string {
  const h = createHash("sha256");
  h.update(`${idf.idfPath}\0${idf.version.text}\0${text}\0`);
  for (const f of inputs) h.update(`${relative(PACKAGE_ROOT, f)}\0`).update(readFileSync(f));
  return h.digest("hex");
}

/** build/<kind>/.../v<version>, a real installation also tagged by its path. */
export function buildRootFor(kind: string[], idf: Idf): string {
  const tag = idf.kitDir
    ? `v${idf.version.text}`
    : `v${idf.version.text}-${createHash("sha256").update(idf.idfPath).digest("hex").slice(0, 8)}`;
  return join(BUILD_CACHE_ROOT, ...kind, tag);
}

/**
 * ESP-IDF applies sdkconfig.defaults only to symbols its sdkconfig does not
 * have yet, and ninja does not regenerate sdkconfig.h for a symbol that a
 * changed Kconfig file adds: a change to either needs a new sdkconfig.
 */
export const needsNewSdkconfig = (file: string) => /^(sdkconfig\.defaults|Kconfig)/.test(basename(file));

const SDKCONFIG_INPUTS_STAMP = "sdkconfig.inputs.sha256";

function sdkconfigInputsHash(projectDir: string, extraFiles: string[]): string {
  const h = createHash("sha256");
  for (const f of [...filesUnder(projectDir).filter(needsNewSdkconfig), ...extraFiles])
    h.update(`${f}\0`).update(readFileSync(f));
  return h.digest("hex");
}

/**
 * Removes the build's sdkconfig when a file it is made from changed (or
 * `force`), so that the configure step makes it anew; returns the hash to
 * record with `sdkconfigMade` once configure succeeded. The hash sits beside
 * the sdkconfig: a build that failed after a change still knows.
 */
export function staleSdkconfig(
  projectDir: string,
  buildDir: string,
  extraFiles: string[],
  force = false,
): string {
  const made = join(buildDir, SDKCONFIG_INPUTS_STAMP);
  const now = sdkconfigInputsHash(projectDir, extraFiles);
  if (force || !existsSync(made) || readFileSync(made, "utf8").trim() !== now)
    rmSync(join(buildDir, "sdkconfig"), { force: true });
  return now;
}

export function sdkconfigMade(buildDir: string, hash: string): void {
  writeFileSync(join(buildDir, SDKCONFIG_INPUTS_STAMP), `${hash}\n`);
}

const inFlight = new Map<string, Promise<unknown>>();

/**
 * Runs `build` in `root` unless the stamp there matches `hash()` and
 * `outputsExist()`; `result` makes what the caller reports either way.
 */
export function cachedBuild<T>(opts: {
  root: string;
  what: string;
  hash: () => string;
  outputsExist: () => boolean;
  build: () => Promise<void>;
  result: (built: boolean) => T;
}): Promise<T> {
  const pending = inFlight.get(opts.root) as Promise<T> | undefined;
  if (pending) return pending;
  const stamp = join(opts.root, "inputs.sha256");
  const fresh = (hash: string) =>
    opts.outputsExist() && existsSync(stamp) && readFileSync(stamp, "utf8").trim() === hash;
  const run = async (): Promise<T> => {
    if (fresh(opts.hash())) return opts.result(false);
    mkdirSync(opts.root, { recursive: true });
    return withDirLock(`${opts.root}.lock`, { staleMs: LOCK_STALE_MS, what: opts.what }, async () => {
      const hash = opts.hash();
      if (fresh(hash)) return opts.result(false); // another process built it meanwhile
      await opts.build();
      writeFileSync(stamp, `${hash}\n`);
      return opts.result(true);
    });
  };
  const p = run().finally(() => inFlight.delete(opts.root));
  inFlight.set(opts.root, p);
  return p;
}
