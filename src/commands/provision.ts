/**
 * `provision --port P`: the main job. Wires the device link, the cloud
 * target, the ledger and the observer into the pipeline, and reports.
 */
import { getBoard } from "../boards/index.js";
import { interrupt } from "../cli/interrupt.js";
import { progressFor, timingsObject } from "../cli/progress.js";
import { printable } from "../printable.js";
import { throwIfInterrupted } from "../provision/interruption.js";
import { type ProvisionResult, provisionDevice } from "../provision/pipeline.js";
import { openTarget } from "../provision/target.js";
import { openConfiguredDevice } from "./device-link.js";
import { type JsonCommand, printDeviceResult } from "./json-output.js";
import { LEDGER_FILE_DEFAULT, openLedger } from "./ledger-open.js";
import {
  buildPlan,
  loadConfig,
  type PlanFlags,
  planWarnings,
  type TargetFlags,
  targetOptions,
} from "./plan.js";

export interface ProvisionCommandOptions extends PlanFlags, TargetFlags {
  verbose?: boolean;
  trace?: boolean;
  json?: boolean;
}

export function printResult(
  command: JsonCommand,
  result: ProvisionResult,
  timings: Record<string, number>,
  json: boolean | undefined,
) {
  if (json) {
    printDeviceResult(command, result, timings);
    return;
  }
  const total = Object.values(timings).reduce((a, b) => a + b, 0);
  const lines = [
    `${result.mode === "verified" ? "verified" : result.mode === "rotated" ? "rotated" : "provisioned"} ${result.thingName} (device ${result.deviceId}, ${result.boardId}) in ${total} ms`,
    `  endpoint     ${result.endpoint}`,
    result.certificateId ? `  certificate  ${result.certificateId}` : undefined,
    `  first message on ${result.firstMessage.topic}: ${result.firstMessage.payload}` +
      (result.firstMessage.connectMs !== undefined
        ? ` (connected after ${result.firstMessage.connectMs} ms,`
        : " (") +
      ` published after ${result.firstMessage.firstPublishMs} ms)`,
    ...(result.retiredCertificates ?? []).map(
      (r) =>
        `  retired certificate ${r.certificateId} (INACTIVE, detached, kept): ${r.why}${r.consent ? `; allowed by ${r.consent}` : ""}`,
    ),
    ...(result.keptCertificates ?? []).map(
      (k) => `  kept: ${k.why}; --retire-unknown-certificates retires it`,
    ),
    result.locked ? "  device locked" : undefined,
  ].filter((l) => l !== undefined);
  // The first payload and the device's identity are the device's words: shown escaped.
  process.stderr.write(`${lines.map(printable).join("\n")}\n`);
}

export async function provisionCommand(opts: ProvisionCommandOptions): Promise<void> {
  const config = loadConfig(opts.config);
  const plan = buildPlan(opts, config);
  // A typo in --board should fail before anything touches the device or the cloud.
  if (plan.boardId) getBoard(plan.boardId);
  const signal = interrupt.signal;
  const progress = progressFor(opts);
  for (const w of planWarnings(plan)) progress.info(`warning: ${w}`);
  // Interruption points before each thing that is opened: a Ctrl-C right after start touches nothing.
  throwIfInterrupted(signal);
  const session = await openConfiguredDevice(opts, config);
  const closers: (() => Promise<void>)[] = [() => session.close()];
  try {
    throwIfInterrupted(signal);
    const target = await openTarget(targetOptions(opts, config), (text) => progress.info(text));
    closers.push(() => target.close());
    throwIfInterrupted(signal);
    const ledger = await openLedger(
      opts.ledger ?? config.ledger ?? LEDGER_FILE_DEFAULT,
      progress.info,
      opts.ledgerWait,
    );
    closers.push(() => ledger.close());
    throwIfInterrupted(signal);
    const observer = await progress.step("observer", "connect the cloud-side observer", () =>
      target.openObserver(),
    );
    closers.push(() => observer.close());
    const result = await provisionDevice({ session, target, ledger, observer, progress, signal }, plan);
    printResult("provision", result, timingsObject(progress.timings), opts.json);
  } finally {
    for (const close of closers.reverse()) await close().catch(() => undefined);
  }
}
