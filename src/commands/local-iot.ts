import { interrupt } from "../cli/interrupt.js";
import { runLocalIotCommand } from "../local-iot/service.js";
import { whenInterrupted } from "../provision/interruption.js";

export interface LocalIotCommandOptions {
  port?: number;
  mqttPort?: number;
  wssPort?: number;
  stateDir?: string;
  json?: boolean;
}

/**
 * Runs until SIGINT/SIGTERM/SIGHUP, then stops cleanly (state is already on
 * disk, the lock is released); the CLI then exits 130/143/129 like every long command.
 */
export async function localIotCommand(opts: LocalIotCommandOptions): Promise<void> {
  const iot = await runLocalIotCommand({
    port: opts.port,
    mqttsPort: opts.mqttPort,
    wssPort: opts.wssPort,
    stateDir: opts.stateDir,
    json: opts.json,
  });
  // The signal may have come while the service was starting or printing (a script that stops it as
  // soon as it has read the output): whenInterrupted resolves at once then.
  await whenInterrupted(interrupt.signal);
  await iot.stop();
}
