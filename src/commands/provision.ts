/**
 * `provision --port P`: the main job. Wires the device link, the cloud
 * target, the ledger and the observer into the pipeline, and reports.
 *
 * The device comes first: its HELLO goes out before the cloud side (the AWS
 * SDK or the local AWS IoT, the ledger, the observer, the pipeline) is even
 * loaded, so a wrong port or a silent device shows at once, and the static
 * imports here are only what that needs (docs/architecture.md, "Loading on
 * demand").
 */
import { ProvisionError } from "../errors.js";
import type { FlashResult } from "../flash/flash.js";
import type { FirstStep, FlashFlags } from "../flash/options.js";
import type { Ledger } from "../ledger/index.js";
import { printable } from "../printable.js";
import { meetDevice } from "../provision/greet.js";
import { throwIfInterrupted } from "../provision/interruption.js";
import type { ProvisionResult } from "../provision/plan.js";
import { openConfiguredDevice } from "./device-link.js";
import { interrupt } from "./interrupt.js";
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
import { progressFor, timingsObject } from "./progress.js";

async function recordFlashStep(ledger: Ledger, deviceId: string, first: FirstStep): Promise<void> {
  const [{ recordFlash }, { flashRecord }] = await Promise.all([
    import("../ledger/index.js"),
    import("../flash/record.js"),
  ]);
  await recordFlash(ledger, deviceId, { ...flashRecord(first) });
}

/** Any of these asks for the flash step (the stray ones without --flash are refused by flashImageOf). */
const FLASH_FLAGS = ["flash", "flashOffset", "reflash", "eraseCredentials"] as const;

export interface ProvisionCommandOptions extends PlanFlags, TargetFlags, FlashFlags {
  verbose?: boolean;
  trace?: boolean;
  json?: boolean;
}

export function printResult(
  command: JsonCommand,
  result: ProvisionResult & { flash?: FlashResult; flashSkipped?: { version: string; elfSha256: string } },
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
    firstMessageLine(result),
    result.flash
      ? `  flashed      ${result.flash.regions.filter((r) => r.written).length} of ${result.flash.regions.length} region(s) written and verified in ${(result.flash.durationMs / 1000).toFixed(1)} s (${result.flash.chip.type} ${result.flash.chip.mac})`
      : result.flashSkipped
        ? `  not flashed  the board runs this build already (${result.flashSkipped.version}, ELF SHA-256 ${result.flashSkipped.elfSha256.slice(0, 16)}…)`
        : undefined,
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

function firstMessageLine(result: ProvisionResult): string {
  const m = result.firstMessage;
  if (!m)
    return `  committed    generation ${result.committed?.generation} read back after a restart; first publish not checked (--until committed: run \`provision verify\` where the device has a network)`;
  return (
    `  first message on ${m.topic}: ${m.payload}` +
    (m.connectMs !== undefined ? ` (connected after ${m.connectMs} ms,` : " (") +
    ` published after ${m.firstPublishMs} ms)`
  );
}

export async function provisionCommand(opts: ProvisionCommandOptions): Promise<void> {
  const config = await loadConfig(opts.config);
  const plan = buildPlan(opts, config);
  // A typo in --board should fail before anything touches the device or the cloud.
  if (plan.boardId) (await import("../boards/index.js")).getBoard(plan.boardId);
  // esptool-js and the image checks load only for a run that flashes.
  const flashing = FLASH_FLAGS.some((k) => opts[k] !== undefined)
    ? await import("../flash/options.js")
    : undefined;
  const image = flashing?.flashImageOf(opts);
  const signal = interrupt.signal;
  const progress = progressFor(opts);
  for (const w of planWarnings(plan)) progress.info(`warning: ${w}`);
  // Interruption points before each thing that is opened: a Ctrl-C right after start touches nothing.
  throwIfInterrupted(signal);
  let first: FirstStep | undefined;
  if (image && flashing) {
    const port = opts.port ?? config.port;
    if (!port)
      throw new ProvisionError("PORT_NOT_GIVEN", "no serial port given", {
        hint: "pass --port /dev/ttyUSB0 (or set ESPPORT); `provision ports` lists the serial ports",
      });
    first = await flashing.flashUnlessRunning(opts, image, port, progress, { signal });
    throwIfInterrupted(signal);
  }
  // After the first step the chip was just reset into the app (and, flashed, boots now): no second reset.
  const session = await openConfiguredDevice(first ? { ...opts, reset: false } : opts, config);
  if (first && "flashed" in first) await flashing?.meetAfterFlash(session, progress);
  const closers: (() => Promise<void>)[] = [() => session.close()];
  try {
    const greeting = await meetDevice({ session, progress, signal }, plan);
    throwIfInterrupted(signal);
    const [{ openTarget }, { provisionDevice }] = await Promise.all([
      import("../provision/target.js"),
      import("../provision/pipeline.js"),
    ]);
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
    // The audit trail has the flash before anything is registered for the board.
    if (first) await recordFlashStep(ledger, greeting.hello.deviceId, first);
    throwIfInterrupted(signal);
    const observer = await progress.step("observer", "connect the cloud-side observer", () =>
      target.openObserver(),
    );
    closers.push(() => observer.close());
    const result = await provisionDevice(
      { session, target, ledger, observer, progress, signal },
      plan,
      greeting,
    );
    printResult(
      "provision",
      first === undefined
        ? result
        : "flashed" in first
          ? { ...result, flash: first.flashed }
          : { ...result, flashSkipped: first.running },
      timingsObject(progress.timings),
      opts.json,
    );
  } finally {
    for (const close of closers.reverse()) await close().catch(() => undefined);
  }
}
