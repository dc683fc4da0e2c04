/**
 * The package's own folder: the repository in a clone, `node_modules/provision`
 * when installed. The files the tool reads at run time (boards/,
 * firmware-templates/) and the folder it builds in (build/) are found from
 * here. This file is src/package-root.ts in a clone (tests, tsx),
 * dist/package-root.js once compiled, and part of a chunk in dist/bundle/ as
 * the CLI runs it (scripts/build.mjs): the root is the nearest folder above
 * with a package.json, one or two levels up.
 */
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

function packageRoot(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  for (let dir = here; ; dir = dirname(dir)) {
    if (existsSync(join(dir, "package.json"))) return dir;
    if (dirname(dir) === dir) throw new Error(`no package.json in any folder above ${here}`);
  }
}

export const PACKAGE_ROOT = packageRoot();

/** `provision --version`: package.json's, the one version (bin/provision.js answers it the same way). */
export const PACKAGE_VERSION: string = JSON.parse(
  readFileSync(join(PACKAGE_ROOT, "package.json"), "utf8"),
).version;
