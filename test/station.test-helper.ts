/**
 * Shared set-up of the station tests: a local AWS IoT, one target with the
 * station's rate limiter, one observer, one ledger and manifest, and twins.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type { Ledger } from "../src/ledger/index.js";
import type { LocalIot } from "../src/local-iot/service.js";
import type { Observer } from "../src/observer/index.js";
import type { CloudTarget } from "../src/provision/target.js";
import { OperationRateLimiter } from "../src/registry/index.js";
import {
  Manifest,
  type ManifestRow,
  manifestFiles,
  Station,
  type StationOptions,
} from "../src/station/index.js";
import { PER_DEVICE_OPERATIONS, planRates, type RatePlan } from "../src/station/rate-plan.js";
import { sampleRequestRates as sampleLocalIot } from "../src/station/request-rates.js";
import { openLocalCloud, testPlan } from "./local-cloud.test-helper.js";

export const plan = testPlan({ subject: { O: "station test" }, firstPublishTimeoutMs: 20_000 });

export interface StationRig {
  dir: string;
  iot: LocalIot;
  target: CloudTarget;
  observer: Observer;
  ledger: Ledger;
  manifestPrefix: string;
  limiter: OperationRateLimiter;
  /** Reads the local service's limits through Service Quotas into the limiter, as `provision station` does. */
  learnQuotas(overrides?: Record<string, number>): Promise<RatePlan>;
  /** A station on the shared parts; a new Manifest is opened per station (like a restarted process). */
  station(options?: Partial<StationOptions>): Promise<{ station: Station; manifest: Manifest }>;
  close(): Promise<void>;
}

export async function startRig(prefix: string): Promise<StationRig> {
  const limiter = new OperationRateLimiter();
  const cloud = await openLocalCloud(prefix, { rateLimit: limiter });
  const manifestPrefix = join(cloud.dir, "manifest");
  const manifests: Manifest[] = [];
  return {
    ...cloud,
    manifestPrefix,
    limiter,
    async learnQuotas(overrides = {}) {
      const rates = planRates(await cloud.target.readQuotas(), overrides);
      limiter.configure(rates.rates, cloud.target.region);
      return rates;
    },
    async station(options = {}) {
      const manifest = await Manifest.open(manifestPrefix);
      manifests.push(manifest);
      const station = new Station({
        target: cloud.target,
        observer: cloud.observer,
        ledger: cloud.ledger,
        manifest,
        plan,
        stationId: "test-station",
        ...options,
      });
      return { station, manifest };
    },
    async close() {
      for (const m of manifests) await m.close().catch(() => undefined);
      await cloud.close();
      await limiter.stop();
    },
  };
}

/**
 * What the tests that assert "nothing refused for rate" tell the station the
 * per-device quotas are: 80% of the service's limit. The station's own 10%
 * headroom covers ~110 ms of arrival jitter; a loaded 2-core CI box holds a
 * process up for 250 ms at times, and these tests must not depend on the
 * machine's load. The real figures at the default headroom are in
 * docs/performance.md and docs/station.md.
 */
export function loadedMachineQuotas(serviceLimit: number): Record<string, number> {
  return Object.fromEntries(PER_DEVICE_OPERATIONS.map((op) => [op, serviceLimit * 0.8]));
}

export async function manifestRows(prefix: string): Promise<ManifestRow[]> {
  const text = await readFile(manifestFiles(prefix).jsonlFile, "utf8");
  return text
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => JSON.parse(l) as ManifestRow);
}

export async function manifestCsvLines(prefix: string): Promise<string[]> {
  return (await readFile(manifestFiles(prefix).csvFile, "utf8")).split("\r\n").filter((l) => l !== "");
}

/** Peak requests per operation in any 1 s window, sampled from the local IoT's counters. */
export function sampleRequestRates(iot: LocalIot, everyMs = 20) {
  return sampleLocalIot(
    () => Object.fromEntries(Object.entries(iot.stats()).map(([op, s]) => [op, s.requests])),
    everyMs,
  );
}
