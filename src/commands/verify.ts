/**
 * `provision verify --port P`: for QA rigs. Reads the identity of an already
 * provisioned device, restarts it, and waits for its first publish; the exit
 * status says pass (0) or which failure.
 */

import { throwIfInterrupted } from "../provision/interruption.js";
import { FIRST_PUBLISH_TIMEOUT_MS_DEFAULT, type Until, verifyProvisioned } from "../provision/pipeline.js";
import { openTarget, type TargetOptions } from "../provision/target.js";
import { type DeviceLinkOptions, openConfiguredDevice } from "./device-link.js";
import { interrupt } from "./interrupt.js";
import { loadConfig, targetOptions } from "./plan.js";
import { progressFor, timingsObject } from "./progress.js";
import { printResult } from "./provision.js";

export interface VerifyCommandOptions extends DeviceLinkOptions, TargetOptions {
  timeout?: number;
  until?: Until;
  json?: boolean;
}

export async function verifyCommand(opts: VerifyCommandOptions): Promise<void> {
  // The same provision.config.json as `provision`: its port, region and profile find the same device and cloud.
  const config = await loadConfig(undefined);
  const progress = progressFor(opts);
  const signal = interrupt.signal;
  throwIfInterrupted(signal);
  const session = await openConfiguredDevice(opts, config);
  const closers: (() => Promise<void>)[] = [() => session.close()];
  try {
    throwIfInterrupted(signal);
    const hello = await progress.step("hello", `meet the device on ${session.port}`, () => session.hello());
    throwIfInterrupted(signal);
    const status = await progress.step("status", "read its identity", () => session.status());
    throwIfInterrupted(signal);
    const target = await openTarget({ ...opts, ...targetOptions(opts, config) }, (text) =>
      progress.info(text),
    );
    closers.push(() => target.close());
    throwIfInterrupted(signal);
    const observer = await progress.step("observer", "connect the cloud-side observer", () =>
      target.openObserver(),
    );
    closers.push(() => observer.close());
    const result = await verifyProvisioned({ session, observer, progress, signal }, hello, status, {
      timeoutMs: opts.timeout ?? config.timeoutMs ?? FIRST_PUBLISH_TIMEOUT_MS_DEFAULT,
      until: opts.until,
    });
    printResult("verify", result, timingsObject(progress.timings), opts.json);
  } finally {
    for (const close of closers.reverse()) await close().catch(() => undefined);
  }
}
