/**
 * `provision install --port P --cert F --endpoint H --thing-name T`: writes a
 * certificate that was signed elsewhere (the AWS console, the user's own CA)
 * into the device. What it writes is checked as `provision` checks it,
 * through the same code (buildPlan: thing name, topic, interval, Wi-Fi), and
 * the endpoint and files besides, all before the port is opened. The device
 * itself refuses a certificate that does not match its key
 * (ERR_KEY_MISMATCH) and nothing changes then.
 */
import { X509Certificate } from "node:crypto";
import { readBoundedFile } from "../bounded-read.js";
import { amazonRootCaPem } from "../cloud/amazon-roots.js";
import { ProvisionError } from "../errors.js";
import { safeJson } from "../printable.js";
import { encodeRequest, PAYLOAD_MAX } from "../protocol/index.js";
import { credentialSet, installCredentials, thingNameFor } from "../provision/pipeline.js";
import { endpointProblem } from "../provision/plan-rules.js";
import { type DeviceLinkOptions, openDevice } from "./device-link.js";
import { buildPlan } from "./plan.js";

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

/** PEM certificates, each one parsed (a file that only contains the marker is not one). */
function readPem(path: string, kind: "certificate" | "caBundle", flag: string): string {
  const what = kind === "certificate" ? "certificate" : "CA bundle";
  let text: string;
  try {
    text = readBoundedFile(path, kind, what, flag);
  } catch (e) {
    if (e instanceof ProvisionError) throw e;
    throw new ProvisionError("USAGE", `cannot read the ${what}: ${(e as Error).message}`, { where: path });
  }
  const blocks = text.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
  for (const block of blocks) {
    try {
      new X509Certificate(block);
    } catch (e) {
      throw new ProvisionError(
        "USAGE",
        `${flag} ${path}: a certificate in it does not parse: ${(e as Error).message}`,
        {
          where: path,
        },
      );
    }
  }
  if (blocks.length === 0 || (kind === "certificate" && blocks.length > 1)) {
    throw new ProvisionError(
      "USAGE",
      `${flag} ${path}: the ${what} is not ${kind === "certificate" ? "one" : "a"} PEM certificate${kind === "certificate" ? "" : " bundle"}`,
      { where: path, hint: "a PEM file: -----BEGIN CERTIFICATE----- ... -----END CERTIFICATE-----" },
    );
  }
  return text;
}

export async function installCommand(opts: InstallCommandOptions): Promise<void> {
  // Exactly what `provision` checks (thing name, topic, interval, Wi-Fi), by the same code, naming the flag.
  const plan = buildPlan(
    {
      thingName: opts.thingName,
      topic: opts.topic,
      interval: opts.interval,
      wifiSsid: opts.wifiSsid,
      wifiPasswordFile: opts.wifiPasswordFile,
    },
    {},
  );
  const endpointIssue = endpointProblem(opts.endpoint);
  if (endpointIssue !== undefined) {
    throw new ProvisionError("USAGE", `--endpoint ${JSON.stringify(opts.endpoint)}: ${endpointIssue}`, {
      hint: "the AWS IoT data endpoint, e.g. abc123-ats.iot.eu-west-1.amazonaws.com (`aws iot describe-endpoint --endpoint-type iot:Data-ATS`)",
    });
  }
  if (!Number.isInteger(opts.mqttPort) || opts.mqttPort < 1 || opts.mqttPort > 65535) {
    throw new ProvisionError("USAGE", `--mqtt-port ${opts.mqttPort}: must be a port number 1-65535`);
  }
  const certificatePem = readPem(opts.cert, "certificate", "--cert");
  const rootCaPem = opts.ca ? readPem(opts.ca, "caBundle", "--ca") : amazonRootCaPem();
  const session = await openDevice(opts);
  try {
    const hello = await session.hello();
    // The template renders with the device's own HELLO, as for `provision`.
    const thingName = thingNameFor(plan, hello);
    const set = credentialSet(
      { certificatePem, thingName },
      { rootCaPem, mqttPort: opts.mqttPort },
      opts.endpoint,
      plan,
    );
    const bytes = encodeRequest("WRITE_CREDENTIALS", set).length;
    if (bytes > PAYLOAD_MAX) {
      throw new ProvisionError(
        "USAGE",
        `the credentials are ${bytes} bytes; the device takes at most ${PAYLOAD_MAX} (certificate, CA bundle, endpoint, names)`,
        { hint: "give --ca only the root(s) the endpoint needs (Amazon Root CA 1 and 3 by default)" },
      );
    }
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
