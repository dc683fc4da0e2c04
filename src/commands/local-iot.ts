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
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.removeAllListeners("SIGINT");
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
  });
  await iot.stop();
}
