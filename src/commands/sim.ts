/**
 * `provision sim [--count N] [--state-dir DIR]`: device twins for trying the
 * tool (or a station) without hardware. Prints one pty path per line (or a
 * JSON array) on stdout and keeps the twins running until interrupted; a
 * twin started again on the same state dir keeps its key and flash.
 */
import { resolve } from "node:path";
import { interrupt } from "../cli/interrupt.js";
import { whenInterrupted } from "../provision/interruption.js";
import { startTwins } from "../twin/index.js";

export interface SimCommandOptions {
  count: number;
  stateDir: string;
  lineRate?: number;
  json?: boolean;
}

export async function simCommand(opts: SimCommandOptions): Promise<void> {
  const twins = await startTwins(opts.count, resolve(opts.stateDir), {
    bootBanner: true,
    ...(opts.lineRate ? { lineRateBaud: opts.lineRate } : {}),
  });
  if (opts.json) {
    process.stdout.write(
      `${JSON.stringify(twins.map((t) => ({ port: t.port, deviceId: t.deviceId, stateDir: t.stateDir })))}\n`,
    );
  } else {
    for (const t of twins) process.stdout.write(`${t.port}\n`);
  }
  process.stderr.write(
    `${twins.length} twin(s) running; Ctrl-C stops them (their flash stays in ${opts.stateDir})\n`,
  );
  // A twin that dies on its own (crash) is reported rather than silently missing.
  for (const t of twins)
    void t.exited.then((code) => {
      if (!interrupt.signal.aborted)
        process.stderr.write(`twin ${t.deviceId} on ${t.port} exited (${code})\n`);
    });
  // Runs until SIGINT/SIGTERM/SIGHUP, then stops the twins (their flash is on disk) and exits 130/143/129.
  await whenInterrupted(interrupt.signal);
  await Promise.all(twins.map((t) => t.stop()));
}
