/**
 * What the idf-linux device and the chip images share: one build folder per
 * board, key store and ESP-IDF, skipped entirely when a stamp holds the hash
 * of every input that is not ESP-IDF's own tree, and one build at a time
 * per folder (a lock between processes, a promise within one).
 */
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { PACKAGE_ROOT } from "../package-root.js";
import { withDirLock } from "./build-tools.js";
import { BUILD_CACHE_ROOT, type Idf } from "./idf.js";
import { FIRMWARE_TEMPLATES_DIR_DEFAULT, RENDERER_SOURCE } from "./render.js";

const LOCK_STALE_MS = 15 * 60_000;

function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, encoding: "utf8" })
    .map((f) => join(dir, f))
    .filter((f) => statSync(f).isFile())
    .sort();
}

/** Hash of the templates, the core, the board file, the renderer, and `extraFiles` (a kit's scripts). */
export function firmwareInputsHash(
  idf: Idf,
  boardId: string,
  extra: { files?: string[]; text?: string } = {},
) {
  const h = createHash("sha256");
  h.update(`${idf.idfPath}\0${idf.version.text}\0${extra.text ?? ""}\0`);
  const inputs = [
    ...filesUnder(join(FIRMWARE_TEMPLATES_DIR_DEFAULT, "esp-idf")),
    ...filesUnder(join(FIRMWARE_TEMPLATES_DIR_DEFAULT, "core", "include")),
    ...filesUnder(join(FIRMWARE_TEMPLATES_DIR_DEFAULT, "core", "src")),
    join(PACKAGE_ROOT, "boards", `${boardId}.json`),
    // the renderer decides which files and values go in
    RENDERER_SOURCE,
    ...(extra.files ?? []),
  ];
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

const inFlight = new Map<string, Promise<unknown>>();

/**
 * Runs `build` in `root` unless the stamp there matches `hash()` and
 * `outputsExist()`; `make` returns what the caller reports either way.
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
