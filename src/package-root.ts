/**
 * The package's own folder: the repository in a clone, `node_modules/provision`
 * when installed. The files the tool reads at run time (boards/,
 * firmware-templates/) and the folder it builds in (build/) are found from
 * here. This file is src/package-root.ts in a clone (tests, tsx) and
 * dist/package-root.js once compiled: one level below the root either way,
 * which is why the build keeps dist/ a mirror of src/ (tsconfig.build.json,
 * rootDir src).
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const PACKAGE_ROOT = fileURLToPath(new URL("../", import.meta.url));

/** `provision --version`: package.json's, the one version (bin/provision.js answers it the same way). */
export const PACKAGE_VERSION: string = JSON.parse(
  readFileSync(join(PACKAGE_ROOT, "package.json"), "utf8"),
).version;
