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

/**
 * Samples the local IoT's request counters every `everyMs` and reports, per
 * operation, the most requests seen in any window of at most 1 s between two
 * samples (so it may undercount by what arrives within one sample period).
 */
export function sampleRequestRates(iot: LocalIot, everyMs = 50) {
  const samples: { t: number; counts: Record<string, number> }[] = [];
  const take = () => {
    const counts: Record<string, number> = {};
    for (const [op, s] of Object.entries(iot.stats())) counts[op] = s.requests;
    samples.push({ t: performance.now(), counts });
  };
  take();
  const timer = setInterval(take, everyMs);
  return {
    stop(): Record<string, number> {
      clearInterval(timer);
      take();
      const max: Record<string, number> = {};
      let j = 0;
      for (let i = 0; i < samples.length; i++) {
        const end = samples[i];
        if (!end) continue;
        while ((samples[j]?.t ?? end.t) < end.t - 1000) j++;
        const start = samples[j] ?? end;
        for (const [op, n] of Object.entries(end.counts)) {
          const windowCount = n - (start.counts[op] ?? 0);
          max[op] = Math.max(max[op] ?? 0, windowCount);
        }
      }
      return max;
    },
  };
}
