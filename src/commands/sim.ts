/**
 * `provision sim [--count N] [--board twin|idf-linux] [--state-dir DIR]`:
 * devices for trying the tool (or a station) without hardware: device twins,
 * or the ESP-IDF port itself built for ESP-IDF's linux target. Prints one pty
 * path per line (or a JSON array) on stdout and keeps the devices running
 * until interrupted; a device started again on the same state dir keeps its
 * key and flash.
 */
import { resolve } from "node:path";
import { ProvisionError } from "../errors.js";
import { idfSelection } from "../firmware/idf.js";
import { whenInterrupted } from "../provision/interruption.js";
import { type DeviceFirmware, startTwins } from "../twin/index.js";
import { interrupt } from "./interrupt.js";

export interface SimCommandOptions {
  count: number;
  board?: DeviceFirmware;
  idf?: string;
  stateDir: string;
  lineRate?: number;
  json?: boolean;
}

export async function simCommand(opts: SimCommandOptions): Promise<void> {
  const firmware = opts.board ?? "twin";
  if (firmware === "idf-linux" && opts.lineRate)
    throw new ProvisionError(
      "USAGE",
      "--line-rate paces twins only: the idf-linux device runs at the host's speed",
      {
        where: "--line-rate",
      },
    );
  const twins = await startTwins(opts.count, resolve(opts.stateDir), {
    firmware,
    idf: idfSelection(opts.idf),
    onBuild: (t) => process.stderr.write(`${t}\n`),
    ...(firmware === "twin" ? { bootBanner: true } : {}),
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
    `${twins.length} ${firmware === "twin" ? "twin(s)" : "idf-linux device(s)"} running; Ctrl-C stops them (their flash stays in ${opts.stateDir})\n`,
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
