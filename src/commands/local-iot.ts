import { interrupt } from "../cli/interrupt.js";
import { runLocalIotCommand } from "../local-iot/service.js";

export interface LocalIotCommandOptions {
  port?: number;
  mqttPort?: number;
  wssPort?: number;
  stateDir?: string;
  json?: boolean;
}

/** Runs until SIGINT/SIGTERM, then stops cleanly (state is already on disk). */
export async function localIotCommand(opts: LocalIotCommandOptions): Promise<void> {
  const iot = await runLocalIotCommand({
    port: opts.port,
    mqttsPort: opts.mqttPort,
    wssPort: opts.wssPort,
    stateDir: opts.stateDir,
    json: opts.json,
  });
  // The CLI's SIGINT handler may already have fired while the service was starting or printing
  // (a Ctrl-C, or a script that stops it as soon as it has read the output): waiting for another
  // SIGINT would then hang.
  await new Promise<void>((resolve) => {
    if (interrupt.signal.aborted) return resolve();
    interrupt.signal.addEventListener("abort", () => resolve(), { once: true });
    process.once("SIGTERM", () => resolve());
  });
  await iot.stop();
}
