/**
 * Before any test file: tests run the CLI through bin/provision.js, which
 * runs the compiled dist/, so dist/ is rebuilt first when a source is newer
 * than it (scripts/build.mjs --if-stale). Without this a test would pass or
 * fail on the code of the last build, not on the code under test.
 */
import { spawnSync } from "node:child_process";
import { resolve } from "node:path";

export default function setup(): void {
  const r = spawnSync(
    process.execPath,
    [resolve(import.meta.dirname, "../scripts/build.mjs"), "--if-stale"],
    {
      stdio: "inherit",
    },
  );
  if (r.status !== 0) throw new Error("building dist/ failed (see above): the CLI tests would run old code");
}
