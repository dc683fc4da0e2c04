/**
 * The station over real twins on ptys against the local AWS IoT: many
 * devices at once through one registry (shared rate limits), one observer
 * and one ledger.
 */
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { targetForLocalIot } from "../src/provision/target.js";
import { explicitPorts } from "../src/station/index.js";
import { ensureTwinBuilt, startTwins, type Twin } from "../src/twin/index.js";
import {
  loadedMachineQuotas,
  manifestCsvLines,
  manifestRows,
  type StationRig,
  sampleRequestRates,
  startRig,
} from "./station.test-helper.js";

const N = Number(process.env.STATION_TEST_DEVICES ?? 32);
let rig: StationRig;
let twins: Twin[] = [];

beforeAll(async () => {
  await ensureTwinBuilt();
  rig = await startRig("station-flow-");
}, 60_000);

afterAll(async () => {
  await Promise.all(twins.map((t) => t.stop()));
  await rig?.close();
});

describe("station", () => {
  it(`provisions ${N} twins at once under the local IoT's 15 requests/s limit, learnt through Service Quotas; manifest = ACTIVE certificates`, async () => {
    rig.iot.setFaults({ default: { maxRps: 15 } });
    const learnt = await rig.learnQuotas();
    expect(learnt.quotas.DescribeThing).toEqual({ tps: 15, from: "account" });
    expect(learnt.quotas.CreateCertificateFromCsr).toEqual({ tps: 15, from: "account" });
    await rig.learnQuotas(loadedMachineQuotas(15));
    twins = await startTwins(N, join(rig.dir, "twins")).catch((e) => {
      console.log(e.deviceLog);
      throw e;
    });
    const { station, manifest } = await rig.station({ concurrency: N });
    const rates = sampleRequestRates(rig.iot);
    const summary = await station.run(explicitPorts(twins.map((t) => t.port)));
    const maxPerSecond = rates.stop();
    await manifest.close();

    expect(summary.records.filter((r) => !r.ok)).toEqual([]);
    expect(summary.ok).toBe(N);
    expect(summary.provisioned).toBe(N);
    for (const r of summary.records) {
      expect(r.outcome).toBe("provisioned");
      expect(r.firstPublishMs).toBeGreaterThanOrEqual(0);
      expect(r.timings.firstPublish).toBeGreaterThan(0);
    }
    // Every slot ended in "done" with its own device.
    expect([...station.slots.values()].map((s) => s.phase)).toEqual(Array(N).fill("done"));

    // Manifest: every device exactly once, in both files.
    const rows = await manifestRows(rig.manifestPrefix);
    expect(rows.map((r) => r.deviceId).sort()).toEqual(twins.map((t) => t.deviceId).sort());
    const csv = await manifestCsvLines(rig.manifestPrefix);
    expect(csv).toHaveLength(N + 1);
    expect(csv[0]).toBe(
      "deviceId,thingName,certificateId,board,firmware,stationId,time,result,port,slot,chip,chipRevision,mac,flashId,appElfSha256,flash",
    );
    for (const row of rows) expect(row.stationId).toBe("test-station");

    // The manifest's certificates are exactly the ACTIVE ones the service lists.
    const active = (await rig.target.registry.listCertificates())
      .filter((c) => c.status === "ACTIVE")
      .map((c) => c.certificateId)
      .sort();
    expect(rows.map((r) => r.certificateId).sort()).toEqual(active);

    // Never above the service's limit: nothing was refused for rate, and the sampled peak agrees.
    const stats = rig.iot.stats();
    for (const [op, s] of Object.entries(stats)) expect(s.rateLimited, op).toBe(0);
    for (const [op, n] of Object.entries(maxPerSecond)) expect(n, op).toBeLessThanOrEqual(15);
    expect(stats.CreateCertificateFromCsr?.ok).toBe(N);

    // A second pass over the same twins verifies them: no new certificate, no new manifest row.
    const again = await rig.station({ concurrency: N });
    const second = await again.station.run(explicitPorts(twins.map((t) => t.port)));
    await again.manifest.close();
    expect(second.records.map((r) => r.outcome)).toEqual(Array(N).fill("verified"));
    expect(rig.iot.stats().CreateCertificateFromCsr?.ok).toBe(N);
    expect(await manifestRows(rig.manifestPrefix)).toHaveLength(N);
  }, 90_000);

  it("the rate check can fail: the same service refuses a burst from a registry without the station's limits", async () => {
    rig.iot.setFaults({ default: { maxRps: 15 } });
    const before = rig.iot.stats().DescribeEndpoint?.rateLimited ?? 0;
    const unlimited = await targetForLocalIot(rig.iot, { maxAttempts: 1 });
    try {
      await Promise.allSettled(Array.from({ length: 30 }, () => unlimited.registry.describeEndpoint()));
    } finally {
      await unlimited.close();
    }
    expect((rig.iot.stats().DescribeEndpoint?.rateLimited ?? 0) - before).toBeGreaterThan(0);
  }, 30_000);
});
