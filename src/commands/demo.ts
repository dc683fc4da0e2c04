/**
 * `npm run demo`: the main job on the built-in default. A local AWS IoT and a
 * device twin (the real C core on a pseudo-terminal) are started, the twin is
 * provisioned through its serial port exactly as a chip would be, and the
 * command ends with the twin's first counter message seen on the cloud side.
 * No hardware, no AWS account.
 */
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { Ledger } from "../ledger/index.js";
import { startLocalIot } from "../local-iot/service.js";
import { type KeyTypeName, provisionDevice } from "../provision/pipeline.js";
import { targetForLocalIot } from "../provision/target.js";
import { ensureTwinBuilt, startTwin } from "../twin/index.js";
import { openDevice } from "./device-link.js";
import { interrupt } from "./interrupt.js";
import { buildPlan } from "./plan.js";
import { progressFor, timingsObject } from "./progress.js";
import { printResult } from "./provision.js";

export interface DemoCommandOptions {
  keyType?: KeyTypeName;
  stateDir?: string;
  json?: boolean;
  verbose?: boolean;
}

export async function demoCommand(opts: DemoCommandOptions): Promise<void> {
  const progress = progressFor(opts);
  const base = resolve(opts.stateDir ?? (await mkdtemp(join(tmpdir(), "provision-demo-"))));
  progress.info(`demo state in ${base}`);
  const closers: (() => Promise<void>)[] = [];
  try {
    await progress.step("build", "build the device twin (the C core against mbedTLS)", () =>
      ensureTwinBuilt(),
    );
    const iot = await progress.step(
      "localIot",
      "start the local AWS IoT (control plane, CA, mTLS MQTT broker)",
      () => startLocalIot({ stateDir: join(base, "local-iot") }),
      (i) => `${i.controlPlaneUrl}, mqtts ${i.endpoint}:${i.mqttsPort}`,
    );
    closers.push(() => iot.stop());
    const twin = await progress.step(
      "twin",
      "start a device twin on a pseudo-terminal",
      () => startTwin({ stateDir: join(base, "twin"), bootBanner: true }),
      (t) => `${t.port}, device ${t.deviceId}`,
    );
    closers.push(() => twin.stop());
    const target = await targetForLocalIot(iot);
    closers.push(() => target.close());
    const ledger = await Ledger.open(join(base, "ledger.jsonl"));
    closers.push(() => ledger.close());
    const session = await openDevice({ port: twin.port, verbose: opts.verbose });
    closers.push(() => session.close());
    const observer = await progress.step("observer", "connect the cloud-side observer (WSS + SigV4)", () =>
      target.openObserver(),
    );
    closers.push(() => observer.close());
    // The same defaults as `provision` with no flags.
    const plan = buildPlan(
      { subject: ["O=provision demo"], ...(opts.keyType ? { keyType: opts.keyType } : {}) },
      {},
    );
    const result = await provisionDevice(
      { session, target, ledger, observer, progress, signal: interrupt.signal },
      plan,
    );
    printResult("demo", result, timingsObject(progress.timings), opts.json);
  } finally {
    for (const close of closers.reverse()) await close().catch(() => undefined);
  }
}
