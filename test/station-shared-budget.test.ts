/**
 * Several stations, one account: three `provision station` processes
 * against one local AWS IoT that limits every operation to Q requests/s,
 * sharing one budget per operation through a real redis-server. The service
 * refuses nothing for rate, the three together run at the rate they were
 * given (each alone would send it: three would be refused), the ledgers stay
 * per station, and `provision manifest merge` lists every device once.
 * The stations are told 80% of Q (loadedMachineQuotas): this must hold on a
 * loaded CI box; the figure at the learnt Q is in docs/station.md.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ledgerState } from "../src/ledger/index.js";
import { describeForClients, type LocalIot, startLocalIot } from "../src/local-iot/service.js";
import { quotaShareFromHeadroom } from "../src/station/rate-plan.js";
import { sampleRequestRates } from "../src/station/request-rates.js";
import { ensureTwinBuilt, startTwins, type Twin } from "../src/twin/index.js";
import { runCli } from "./cli.test-helper.js";
import { type RedisServer, startRedis } from "./redis-server.test-helper.js";
import { loadedMachineQuotas, manifestRows } from "./station.test-helper.js";

const QUOTA = 5;
/**
 * SHARED_BUDGET_AT_LEARNT_QUOTA=1: the stations use the Q they learn (the
 * docs' measurement; needs a quiet machine for "0 refused"); by default
 * they are told 80% of it.
 */
const AT_LEARNT_QUOTA = process.env.SHARED_BUDGET_AT_LEARNT_QUOTA === "1";
const told = AT_LEARNT_QUOTA ? {} : loadedMachineQuotas(QUOTA);
/** SHARED_BUDGET_HEADROOM=5: every station gets `--headroom 5` (the docs' second measurement). */
const HEADROOM = process.env.SHARED_BUDGET_HEADROOM || undefined;
const SHARE = quotaShareFromHeadroom(HEADROOM === undefined ? undefined : Number(HEADROOM));
const STATIONS = 3;
/** SHARED_BUDGET_DEVICES=N: N devices per station (a longer window for the docs' figures; default 24). */
const DEVICES_PER_STATION = Number(process.env.SHARED_BUDGET_DEVICES || 24);

let dir: string;
let redis: RedisServer;
let iot: LocalIot;
let twins: Twin[] = [];

beforeAll(async () => {
  await ensureTwinBuilt();
  dir = await mkdtemp(join(tmpdir(), "station-shared-budget-"));
  redis = await startRedis();
  iot = await startLocalIot({ stateDir: join(dir, "iot"), faults: { default: { maxRps: QUOTA } } });
}, 60_000);

afterAll(async () => {
  await Promise.all(twins.map((t) => t.stop()));
  await iot?.stop();
  await redis?.stop();
  await rm(dir, { recursive: true, force: true });
});

interface DeviceLine {
  ok: boolean;
  deviceId: string;
  startedAt: string;
  totalMs: number;
}

describe("three stations sharing one budget through Redis", () => {
  it(`provision ${STATIONS * DEVICES_PER_STATION} devices at the quota-bound rate with nothing refused for rate`, async () => {
    const infoFile = join(dir, "local-iot.json");
    await writeFile(infoFile, JSON.stringify(describeForClients(iot)));
    twins = await startTwins(STATIONS * DEVICES_PER_STATION, join(dir, "twins"));
    const rates = sampleRequestRates(() =>
      Object.fromEntries(Object.entries(iot.stats()).map(([op, s]) => [op, s.requests])),
    );
    const runs = await Promise.all(
      Array.from({ length: STATIONS }, (_, s) =>
        runCli(
          [
            "station",
            ...twins.slice(s * DEVICES_PER_STATION, (s + 1) * DEVICES_PER_STATION).map((t) => t.port),
            "--local-iot-info",
            infoFile,
            "--rate-store",
            redis.url,
            ...Object.entries(told).flatMap(([op, n]) => ["--quota", `${op}=${n}`]),
            ...(HEADROOM === undefined ? [] : ["--headroom", HEADROOM]),
            "--concurrency",
            "8",
            "--station-id",
            `line-${s + 1}`,
            "--ledger",
            join(dir, `ledger-${s + 1}.jsonl`),
            "--manifest",
            join(dir, `manifest-${s + 1}`),
            "--json",
          ],
          { cwd: dir },
        ),
      ),
    );
    const peaks = rates.stop();
    for (const [s, run] of runs.entries()) {
      expect(run.status, `station ${s + 1}: ${run.stderr}`).toBe(0);
      // Learnt from the service: the quotas this test does not set (GetPolicy, CreatePolicy, ...).
      expect(run.stderr).toMatch(
        AT_LEARNT_QUOTA
          ? /quotas from Service Quotas \(iotcore\): CreateCertificateFromCsr 5, /
          : /quotas from Service Quotas \(iotcore\): CreateCertificateFromCsr 4 \(--quota\), /,
      );
      expect(run.stderr).toMatch(/budget shared through redis:\/\/127\.0\.0\.1:\d+/);
    }

    // Nothing refused for rate, and no operation above Q in any 1 s window.
    const stats = iot.stats();
    for (const [op, st] of Object.entries(stats)) expect(st.rateLimited, op).toBe(0);
    for (const [op, n] of Object.entries(peaks)) expect(n, op).toBeLessThanOrEqual(QUOTA);
    expect(stats.CreateCertificateFromCsr?.ok).toBe(twins.length);

    // Combined rate while all three run (from the last station's first device to the first station's
    // last one), against 60 * Q.
    const perStation = runs.map((r) =>
      r.stdout
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l) as DeviceLine),
    );
    const lines = perStation.flat();
    expect(lines.filter((l) => !l.ok)).toEqual([]);
    const doneAt = (l: DeviceLine) => Date.parse(l.startedAt) + l.totalMs;
    const from = Math.max(...perStation.map((ls) => Math.min(...ls.map(doneAt))));
    const to = Math.min(...perStation.map((ls) => Math.max(...ls.map(doneAt))));
    const inside = lines.map(doneAt).filter((t) => t > from && t <= to).length;
    const perMin = (inside * 60_000) / (to - from);
    const quotaBoundPerMin = 60 * QUOTA;
    console.log(
      `three stations: ${perMin.toFixed(1)} devices/min combined while all three ran (${inside} devices in ${to - from} ms), ` +
        `${((100 * perMin) / quotaBoundPerMin).toFixed(1)}% of the quota-bound ${quotaBoundPerMin} ` +
        `(the stations send at ${Math.round(SHARE * 100)}% of each quota); peaks ${JSON.stringify(peaks)}`,
    );
    // The real figure is in docs/station.md; a loaded CI box gets a wide margin below the rate the
    // stations were given, none above the service's.
    const givenPerMin = 60 * (told.CreateCertificateFromCsr ?? QUOTA) * SHARE;
    expect(perMin).toBeGreaterThan(0.7 * givenPerMin);
    expect(perMin).toBeLessThanOrEqual(quotaBoundPerMin);

    // Ledgers stay per station: each holds its own devices only.
    for (let s = 0; s < STATIONS; s++) {
      const mine = twins.slice(s * DEVICES_PER_STATION, (s + 1) * DEVICES_PER_STATION).map((t) => t.deviceId);
      const state = await ledgerState(join(dir, `ledger-${s + 1}.jsonl`));
      expect(Object.keys(state.devices).sort()).toEqual([...mine].sort());
    }

    // One manifest for the line: every device once, each from its station.
    const merge = await runCli(
      [
        "manifest",
        "merge",
        "--out",
        "line",
        ...Array.from({ length: STATIONS }, (_, s) => `manifest-${s + 1}`),
      ],
      { cwd: dir },
    );
    expect(merge.status, merge.stderr).toBe(0);
    expect(merge.stderr).toMatch(new RegExp(`${twins.length} row\\(s\\) added, 0 already listed`));
    const merged = await manifestRows(join(dir, "line"));
    expect(merged.map((r) => r.deviceId).sort()).toEqual(twins.map((t) => t.deviceId).sort());
    for (const row of merged) {
      const station =
        Math.floor(twins.findIndex((t) => t.deviceId === row.deviceId) / DEVICES_PER_STATION) + 1;
      expect(row.stationId).toBe(`line-${station}`);
    }
    const again = await runCli(["manifest", "merge", "--out", "line", "manifest-1"], { cwd: dir });
    expect(again.stderr).toMatch(new RegExp(`0 row\\(s\\) added, ${DEVICES_PER_STATION} already listed`));
  }, 120_000);
});
