#!/usr/bin/env node
// The tool ships as TypeScript run through tsx's loader, so `npx provision`
// works from a fresh clone without a build step.
//
// Loading takes about a second. A signal in that time would kill the process
// the default way (no exit status of ours); nothing has been touched yet, but
// scripts should see the same 130/143/129 as later, so the signal is kept and
// src/cli/interrupt.ts acts on it as soon as it is installed.
const signals = [];
const remember = (signal) => signals.push(signal);
for (const s of ["SIGINT", "SIGTERM", "SIGHUP"]) process.on(s, remember);
globalThis[Symbol.for("provision.earlySignals")] = { signals, remember };

const { register } = await import("tsx/esm/api");
register();
await import("../src/cli/main.ts");
