#!/usr/bin/env node
// Runs the compiled JavaScript in dist/, bundled into dist/bundle/ (`npm run
// build`; `npm ci` in a clone builds it through `prepare`, and a packed install
// ships it). No TypeScript loader at run time: the tool starts in a few tens of
// milliseconds.
//
// A signal before src/commands/interrupt.ts is installed would kill the process
// the default way (no exit status of ours); nothing has been touched yet, but
// scripts should see the same 130/143/129 as later, so the signal is kept and
// src/commands/interrupt.ts acts on it as soon as it is installed.
import { readFileSync } from "node:fs";
import module from "node:module";

const signals = [];
const remember = (signal) => signals.push(signal);
for (const s of ["SIGINT", "SIGTERM", "SIGHUP"]) process.on(s, remember);
globalThis[Symbol.for("provision.earlySignals")] = { signals, remember };

// V8's compiled code for every module loaded from here on, kept on disk
// between runs (Node 22.1+; in the OS temp folder, NODE_COMPILE_CACHE to move
// it, NODE_DISABLE_COMPILE_CACHE=1 to turn it off): the second start of a
// command parses nothing again. docs/performance.md has the figures.
module.enableCompileCache?.();

// `provision --version` and, off a terminal, `provision --help` alone are answered here, before the
// command table and its libraries load: scripts and QA rigs ask them per unit. The version is
// package.json's, as src/cli/main.ts gives it to commander; the help is commander's own text, written
// into dist/ by the build (a terminal gets commander itself, which wraps to its width).
const args = process.argv.slice(2);
if (args.length === 1 && (args[0] === "--version" || args[0] === "-V")) {
  const { version } = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8"));
  process.stdout.write(`${version}\n`);
  process.exit(0);
}
if (args.length === 1 && (args[0] === "--help" || args[0] === "-h") && !process.stdout.isTTY) {
  try {
    process.stdout.write(readFileSync(new URL("../dist/help.txt", import.meta.url), "utf8"));
    process.exit(0);
  } catch {
    // not built with it: commander answers below
  }
}

const main = new URL("../dist/bundle/main.js", import.meta.url);
try {
  await import(main.href);
} catch (e) {
  if (e?.code === "ERR_MODULE_NOT_FOUND" && e.url === main.href) {
    process.stderr.write(
      "provision: dist/ is missing: this is a source checkout that was not built; run `npm run build` (or `npm ci`, which builds)\n",
    );
    process.exit(1);
  }
  throw e;
}
