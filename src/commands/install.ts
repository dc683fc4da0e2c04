/**
 * `provision install --port P --cert F --endpoint H --thing-name T`: writes a
 * certificate that was signed elsewhere (the AWS console, the user's own CA)
 * into the device. The device itself refuses a certificate that does not
 * match its key (ERR_KEY_MISMATCH) and nothing changes then.
 */
import { readFileSync } from "node:fs";
import { amazonRootCaPem } from "../cloud/amazon-roots.js";
import { ProvisionError } from "../errors.js";
import { safeJson } from "../printable.js";
import type { CredentialSet } from "../protocol/index.js";
import { installCredentials } from "../provision/pipeline.js";
import { type DeviceLinkOptions, openDevice } from "./device-link.js";
import { wifiFrom } from "./plan.js";

export interface InstallCommandOptions extends DeviceLinkOptions {
  cert: string;
  endpoint: string;
  ca?: string;
  mqttPort: number;
  thingName: string;
  topic?: string;
  interval: number;
  wifiSsid?: string;
  wifiPasswordFile?: string;
  restart?: boolean;
  json?: boolean;
}

function readPem(path: string, what: string): string {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new ProvisionError("USAGE", `cannot read the ${what}: ${(e as Error).message}`, { where: path });
  }
  if (!text.includes("-----BEGIN CERTIFICATE-----")) {
    throw new ProvisionError("USAGE", `the ${what} is not a PEM certificate`, { where: path });
  }
  return text;
}

export async function installCommand(opts: InstallCommandOptions): Promise<void> {
  // The same floor as `provision` (plan.ts): `--interval 5` meant as seconds would flood the broker.
  if (!Number.isInteger(opts.interval) || opts.interval < 1000) {
    throw new ProvisionError(
      "USAGE",
      `--interval ${opts.interval}: must be a whole number of ms, at least 1000`,
    );
  }
  if (!Number.isInteger(opts.mqttPort) || opts.mqttPort < 1 || opts.mqttPort > 65535) {
    throw new ProvisionError("USAGE", `--mqtt-port ${opts.mqttPort}: must be a port number 1-65535`);
  }
  const set: CredentialSet = {
    certificatePem: readPem(opts.cert, "certificate"),
    rootCaPem: opts.ca ? readPem(opts.ca, "CA file") : amazonRootCaPem(),
    endpoint: opts.endpoint,
    mqttPort: opts.mqttPort,
    thingName: opts.thingName,
    topic: opts.topic ?? `${opts.thingName}/counter`,
    publishIntervalMs: opts.interval,
  };
  const wifi = wifiFrom(opts, {});
  if (wifi) {
    set.wifiSsid = wifi.ssid;
    if (wifi.password !== undefined) set.wifiPassword = wifi.password;
  }
  const session = await openDevice(opts);
  try {
    const hello = await session.hello();
    const committed = await installCredentials(session, set);
    if (opts.restart) await session.restart();
    const result = {
      ok: true,
      deviceId: hello.deviceId,
      thingName: set.thingName,
      endpoint: `${set.endpoint}:${set.mqttPort}`,
      topic: set.topic,
      generation: committed.generation,
      restarted: Boolean(opts.restart),
    };
    if (opts.json) process.stdout.write(`${safeJson(result)}\n`);
    else
      process.stderr.write(
        `credentials committed on ${hello.deviceId} (generation ${committed.generation}); ${opts.restart ? "restarted" : "restart it to connect"}\n`,
      );
  } finally {
    await session.close();
  }
}
