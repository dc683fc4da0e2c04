// `npm run build` (and `prepare`, so `npm ci` and `npm pack` build): compiles
// src/ into dist/ with tsc (tsconfig.build.json; docs/decisions.md D24), then
// bundles that tree's own modules into dist/bundle/ with esbuild, which is
// what bin/provision.js runs: a start resolves and reads a few chunks, not
// ~60 small modules (docs/performance.md, "Start-up").
//
// The new tree is compiled beside the old one and swapped in, so a CLI
// started from this checkout meanwhile finds either whole tree, never half
// of one; a clean build also drops the output of deleted sources.
// `--if-stale` builds only when a source is newer than dist/: the test suite
// runs it first (test/global-setup.ts), because tests spawn bin/provision.js,
// which runs dist/, and a dist/ older than src/ would test old code.
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const DIST = join(ROOT, "dist");
/** Written last: its time is when dist/ was complete. */
const STAMP = join(DIST, ".built");
/** What the build reads besides src/. */
const CONFIG_FILES = ["tsconfig.json", "tsconfig.build.json", "package.json"];

function newestSource() {
  const sources = readdirSync(join(ROOT, "src"), { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && e.name.endsWith(".ts"))
    .map((e) => join(e.parentPath, e.name));
  return Math.max(...[...sources, ...CONFIG_FILES.map((f) => join(ROOT, f))].map((f) => statSync(f).mtimeMs));
}

/** Why dist/ must be built again, or undefined when it is newer than every source. */
function staleReason() {
  if (!existsSync(STAMP)) return "dist/ has not been built";
  return newestSource() > statSync(STAMP).mtimeMs ? "src/ changed since dist/ was built" : undefined;
}

/** What bin/provision.js imports. */
const BUNDLE_ENTRY = join("bundle", "main.js");

/**
 * dist/cli/main.js and everything it imports from src/ into dist/bundle/: ESM, one chunk per
 * `import()` that keeps a command's code out of a start (code splitting), so each module is still
 * loaded once and only when it was before. Packages stay outside (node_modules, loaded as now): the
 * startup test sees which ones a start loads, and `requireCommonJs()` keeps serialport a require().
 * No minifying: an INTERNAL error's stack names our functions (docs/decisions.md D24).
 */
async function bundle(tree) {
  const esbuild = await import("esbuild");
  await esbuild.build({
    entryPoints: [join(tree, "cli", "main.js")],
    outdir: join(tree, "bundle"),
    bundle: true,
    splitting: true,
    format: "esm",
    platform: "node",
    target: "node22",
    packages: "external",
    chunkNames: "[name]-[hash]",
    logLevel: "warning",
  });
}

async function build() {
  const next = join(ROOT, "dist.next");
  rmSync(next, { recursive: true, force: true });
  const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
  const r = spawnSync(process.execPath, [tsc, "-p", join(ROOT, "tsconfig.build.json"), "--outDir", next], {
    stdio: "inherit",
  });
  if (r.status !== 0) throw new Error(`tsc failed (exit ${r.status ?? r.signal}): dist/ left as it was`);
  await bundle(next);
  // The default job's flags as the command table declares them: src/cli/default-job.ts reads
  // `provision --port P` with them, without loading commander (src/cli/default-job-spec.ts).
  const spec = spawnSync(
    process.execPath,
    [
      "--input-type=module",
      "-e",
      `const { commandTable } = await import(${JSON.stringify(pathToFileURL(join(next, "cli", "table.js")).href)});
       const { defaultJobSpec } = await import(${JSON.stringify(pathToFileURL(join(next, "cli", "default-job-spec.js")).href)});
       process.stdout.write(JSON.stringify(defaultJobSpec(commandTable()), null, 1));`,
    ],
    { encoding: "utf8" },
  );
  if (spec.status !== 0) throw new Error(`writing the default job's flags failed: ${spec.stderr}`);
  writeFileSync(join(next, "default-job.json"), `${spec.stdout}\n`);
  // `provision --help` as commander prints it off a terminal, kept for bin/provision.js to print without
  // loading commander and the command table (docs/performance.md, start-up); a test compares the two.
  const help = spawnSync(process.execPath, [join(next, BUNDLE_ENTRY), "--help"], { encoding: "utf8" });
  if (help.status !== 0) throw new Error(`dist/cli/main.js --help failed: ${help.stderr}`);
  writeFileSync(join(next, "help.txt"), help.stdout);
  writeFileSync(join(next, ".built"), `${new Date().toISOString()}\n`);
  rmSync(DIST, { recursive: true, force: true });
  renameSync(next, DIST);
}

try {
  const reason = process.argv.includes("--if-stale") ? staleReason() : "asked to";
  if (reason !== undefined) {
    await build();
    process.stderr.write(`build: dist/ built (${reason})\n`);
  }
} catch (e) {
  process.stderr.write(`build: ${e.message}\n`);
  process.exit(1);
}
