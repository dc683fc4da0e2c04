/**
 * Shared set-up of the tests that provision against the local AWS IoT: the
 * service in a temp dir, a target (real @aws-sdk/client-iot), one observer,
 * one ledger; plus the invariant every such test checks afterwards.
 */
import { execFileSync } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildPlan } from "../src/commands/plan.js";
import { Ledger } from "../src/ledger/index.js";
import { type LocalIot, startLocalIot } from "../src/local-iot/service.js";
import type { Observer } from "../src/observer/index.js";
import type { ProvisionPlan } from "../src/provision/pipeline.js";
import type { Progress, StepTiming } from "../src/provision/progress.js";
import { type CloudTarget, type TargetOptions, targetForLocalIot } from "../src/provision/target.js";
import type { CloudRegistry } from "../src/registry/index.js";

export interface LocalCloud {
  dir: string;
  iot: LocalIot;
  target: CloudTarget;
  observer: Observer;
  ledger: Ledger;
  close(): Promise<void>;
}

export async function openLocalCloud(
  prefix: string,
  opts: { detachDelayMs?: number; maxAttempts?: number; rateLimit?: TargetOptions["rateLimit"] } = {},
): Promise<LocalCloud> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  const iot = await startLocalIot({ stateDir: join(dir, "iot"), detachDelayMs: opts.detachDelayMs ?? 50 });
  const target = await targetForLocalIot(iot, { maxAttempts: opts.maxAttempts, rateLimit: opts.rateLimit });
  const observer = await target.openObserver();
  const ledger = await Ledger.open(join(dir, "ledger.jsonl"));
  return {
    dir,
    iot,
    target,
    observer,
    ledger,
    async close() {
      await observer.close().catch(() => undefined);
      await ledger.close().catch(() => undefined);
      await target.close().catch(() => undefined);
      await iot.stop().catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** The built-in defaults (as `provision` with no flags), with a test's changes. */
export function testPlan(changes: Partial<ProvisionPlan> = {}): ProvisionPlan {
  return { ...buildPlan({}, {}), firstPublishTimeoutMs: 15_000, ...changes };
}

/** The invariant, through the real SDK: ACTIVE certificates that no thing holds (a leak). */
export async function activeUnattached(registry: CloudRegistry): Promise<string[]> {
  const out: string[] = [];
  for (const c of await registry.listCertificates()) {
    if (c.status !== "ACTIVE") continue;
    if ((await registry.listPrincipalThings(c.certificateArn)).length === 0) out.push(c.certificateId);
  }
  return out;
}

/** A Progress that prints nothing, keeps timings, and can act after a step (e.g. pull the plug). */
export function quietProgress(after?: (step: string) => Promise<void>): Progress {
  const timings: StepTiming[] = [];
  return {
    timings,
    info: () => {},
    async step(name, _label, run) {
      const started = performance.now();
      const r = await run();
      timings.push({ step: name, ms: performance.now() - started, ok: true });
      if (after) await after(name);
      return r;
    },
  };
}

/** A P-256 key and a CSR for it, made by the real openssl CLI (not by code under test). */
export async function opensslCsr(
  dir: string,
  name: string,
  cn = name,
): Promise<{ csrPem: string; keyPem: string }> {
  const keyFile = join(dir, `${name}.key`);
  execFileSync("openssl", ["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", keyFile]);
  const csrPem = execFileSync("openssl", ["req", "-new", "-key", keyFile, "-subj", `/CN=${cn}`]).toString();
  return { csrPem, keyPem: await readFile(keyFile, "utf8") };
}
