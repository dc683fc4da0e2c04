/**
 * Shared set-up of the station tests: a local AWS IoT, one target with the
 * station's rate limits, one observer, one ledger and manifest, and twins.
 */
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stationRateLimits } from "../src/commands/station.js";
import { Ledger } from "../src/ledger/index.js";
import { type LocalIot, startLocalIot } from "../src/local-iot/service.js";
import type { Observer } from "../src/observer/index.js";
import {
  POLICY_NAME_DEFAULT,
  type ProvisionPlan,
  THING_NAME_TEMPLATE_DEFAULT,
} from "../src/provision/pipeline.js";
import { type CloudTarget, targetForLocalIot } from "../src/provision/target.js";
import { TOPIC_DEFAULT } from "../src/registry/index.js";
import { Manifest, type ManifestRow, Station, type StationOptions } from "../src/station/index.js";
import { sampleRequestRates as sampleLocalIot } from "../src/station/request-rates.js";

export const plan: ProvisionPlan = {
  thingNameTemplate: THING_NAME_TEMPLATE_DEFAULT,
  topic: TOPIC_DEFAULT,
  policyName: POLICY_NAME_DEFAULT,
  intervalMs: 5000,
  subject: { O: "station test" },
  force: false,
  lock: false,
  firstPublishTimeoutMs: 20_000,
};

export interface StationRig {
  dir: string;
  iot: LocalIot;
  target: CloudTarget;
  observer: Observer;
  ledger: Ledger;
  manifestPrefix: string;
  /** A station on the shared parts; a new Manifest is opened per station (like a restarted process). */
  station(options?: Partial<StationOptions>): Promise<{ station: Station; manifest: Manifest }>;
  close(): Promise<void>;
}

export async function startRig(prefix: string): Promise<StationRig> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  const iot = await startLocalIot({ stateDir: join(dir, "local-iot"), detachDelayMs: 50 });
  const target = await targetForLocalIot(iot, { rateLimit: stationRateLimits([]) });
  const observer = await target.openObserver();
  const ledger = await Ledger.open(join(dir, "ledger.jsonl"));
  const manifestPrefix = join(dir, "manifest");
  const manifests: Manifest[] = [];
  return {
    dir,
    iot,
    target,
    observer,
    ledger,
    manifestPrefix,
    async station(options = {}) {
      const manifest = await Manifest.open(manifestPrefix);
      manifests.push(manifest);
      const station = new Station({
        target,
        observer,
        ledger,
        manifest,
        plan,
        stationId: "test-station",
        ...options,
      });
      return { station, manifest };
    },
    async close() {
      for (const m of manifests) await m.close().catch(() => undefined);
      await observer.close().catch(() => undefined);
      await ledger.close().catch(() => undefined);
      await target.close().catch(() => undefined);
      await iot.stop().catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export async function manifestRows(prefix: string): Promise<ManifestRow[]> {
  const text = await readFile(`${prefix}.jsonl`, "utf8");
  return text
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => JSON.parse(l) as ManifestRow);
}

export async function manifestCsvLines(prefix: string): Promise<string[]> {
  return (await readFile(`${prefix}.csv`, "utf8")).split("\r\n").filter((l) => l !== "");
}

/** Peak requests per operation in any 1 s window, sampled from the local IoT's counters. */
export function sampleRequestRates(iot: LocalIot, everyMs = 20) {
  return sampleLocalIot(
    () => Object.fromEntries(Object.entries(iot.stats()).map(([op, s]) => [op, s.requests])),
    everyMs,
  );
}
