// `npm run build` (and `prepare`, so `npm ci` and `npm pack` build): compiles
// src/ into dist/ with tsc (tsconfig.build.json; docs/decisions.md D24), then
// bundles that tree's own modules into dist/bundle/ with rolldown, which is
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
import { existsSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, isAbsolute, join, resolve } from "node:path";
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

/** A compiled module and every one it loads with a static import (tsc writes each as `from "./x.js"`). */
function staticImports(file, seen = new Set()) {
  if (seen.has(file)) return seen;
  seen.add(file);
  for (const m of readFileSync(file, "utf8").matchAll(
    /^(?:import|export)\s[^;]*?["'](\.{1,2}\/[^"']+)["'];?$/gms,
  ))
    staticImports(resolve(dirname(file), m[1]), seen);
  return seen;
}

/**
 * dist/cli/main.js and everything it imports from src/ into dist/bundle/ with rolldown: ESM, split at
 * each `import()` that keeps a command's code out of a start, so each module is still loaded once and
 * only when it was before. What `provision --port P` loads besides main.js, up to its first byte, is
 * one chunk ("default-job"), not the ~20 that splitting by sharing alone makes of it (each file costs
 * a start its resolution and reading). Packages stay outside (node_modules, loaded as before): the
 * startup test sees which ones a start loads, and `requireCommonJs()` keeps serialport a require().
 * Not minified: an INTERNAL error's stack names our functions (docs/decisions.md D24).
 */
async function bundle(tree) {
  const { rolldown } = await import("rolldown");
  const main = staticImports(join(tree, "cli", "main.js"));
  const defaultJob = new Set(
    [...staticImports(join(tree, "commands", "provision.js"))].filter((f) => !main.has(f)),
  );
  const build = await rolldown({
    input: { main: join(tree, "cli", "main.js") },
    platform: "node",
    external: (id) => !id.startsWith(".") && !isAbsolute(id),
    // main.js exports nothing; the group takes only the modules it names, not what they import from main.
    preserveEntrySignatures: "allow-extension",
    logLevel: "warn",
  });
  await build.write({
    dir: join(tree, "bundle"),
    format: "esm",
    chunkFileNames: "[name]-[hash].js",
    codeSplitting: {
      groups: [
        { name: "default-job", test: (id) => defaultJob.has(id), includeDependenciesRecursively: false },
      ],
    },
  });
  await build.close();
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
