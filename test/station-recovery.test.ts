/**
 * The station when things go wrong: a device that loses power between
 * registration and COMMIT (its slot fails and rolls back, the others finish,
 * and the same device resumes later), and an operator's Ctrl-C mid-run
 * (nothing left ACTIVE and unattached, nothing open in the ledger).
 */
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openDevice } from "../src/commands/device-link.js";
import { Ledger, ledgerState } from "../src/ledger/index.js";
import { provisionDevice } from "../src/provision/pipeline.js";
import type { Progress } from "../src/provision/progress.js";
import { explicitPorts } from "../src/station/index.js";
import { ensureTwinBuilt, startTwin, startTwins, type Twin } from "../src/twin/index.js";
import { activeUnattached as sharedActiveUnattached } from "./local-cloud.test-helper.js";
import { manifestRows, plan, type StationRig, startRig } from "./station.test-helper.js";

let rig: StationRig;
const twins: Twin[] = [];

beforeAll(async () => {
  await ensureTwinBuilt();
  rig = await startRig("station-recovery-");
}, 60_000);

afterAll(async () => {
  await Promise.all(twins.map((t) => t.stop()));
  await rig?.close();
});

/** ACTIVE certificates that no thing holds: what a leak looks like. */
const activeUnattached = () => sharedActiveUnattached(rig.target.registry);

async function activeIds(): Promise<string[]> {
  return (await rig.target.registry.listCertificates())
    .filter((c) => c.status === "ACTIVE")
    .map((c) => c.certificateId)
    .sort();
}

describe("station recovery", () => {
  it("a twin killed after registration: its slot fails and rolls back, the others finish, the device resumes", async () => {
    const batch = await startTwins(4, join(rig.dir, "kill"));
    twins.push(...batch);
    const victim = batch[1] as Twin;
    const { station, manifest } = await rig.station({
      concurrency: 4,
      afterStep: async (slot, step) => {
        // Power cut right after the cloud issued the certificate, before the device has it.
        if (slot.port === victim.port && step === "register") await victim.kill("SIGKILL");
      },
    });
    const summary = await station.run(explicitPorts(batch.map((t) => t.port)));
    await manifest.close();

    const failed = summary.records.filter((r) => !r.ok);
    expect(failed).toHaveLength(1);
    const f = failed[0];
    expect(f?.deviceId).toBe(victim.deviceId);
    expect(f?.failedStep).toBe("credentials");
    expect(f?.rollback).toBe("rolled-back");
    expect(["PORT_IO", "DEVICE_SILENT"]).toContain(f?.outcome);
    const victimSlot = station.slots.get(victim.port);
    expect(victimSlot?.phase).toBe("failed");
    expect(victimSlot?.last?.rollback).toBe("rolled-back");
    expect(
      summary.records
        .filter((r) => r.ok)
        .map((r) => r.deviceId)
        .sort(),
    ).toEqual(
      batch
        .filter((t) => t !== victim)
        .map((t) => t.deviceId)
        .sort(),
    );
    expect(await activeUnattached()).toEqual([]);
    expect((await manifestRows(rig.manifestPrefix)).map((r) => r.deviceId)).not.toContain(victim.deviceId);

    // Power back: the same flash (state dir), a new pty. The station resumes it.
    const revived = await startTwin({ stateDir: victim.stateDir });
    twins.push(revived);
    expect(revived.deviceId).toBe(victim.deviceId);
    const again = await rig.station({ concurrency: 4 });
    const second = await again.station.run(
      explicitPorts([revived.port, ...batch.filter((t) => t !== victim).map((t) => t.port)]),
    );
    await again.manifest.close();
    const byDevice = Object.fromEntries(second.records.map((r) => [r.deviceId, r.outcome]));
    expect(byDevice[victim.deviceId]).toBe("provisioned");
    for (const t of batch.filter((x) => x !== victim)) expect(byDevice[t.deviceId]).toBe("verified");

    const rows = await manifestRows(rig.manifestPrefix);
    expect(rows.map((r) => r.deviceId).sort()).toEqual(batch.map((t) => t.deviceId).sort());
    expect(rows.map((r) => r.certificateId).sort()).toEqual(await activeIds());
    expect((await ledgerState(rig.ledger.file)).openRuns).toEqual([]);
  }, 90_000);

  it("SIGINT mid-run: no new device is taken, in-flight ones finish or roll back, nothing ACTIVE and unattached", async () => {
    const batch = await startTwins(8, join(rig.dir, "sigint"));
    twins.push(...batch);
    const before = new Set(await activeIds());
    const interrupt = new AbortController();
    const { station, manifest } = await rig.station({
      concurrency: 3,
      signal: interrupt.signal,
      afterStep: (_slot, step) => {
        if (step === "register" && !interrupt.signal.aborted) interrupt.abort();
      },
    });
    const summary = await station.run(explicitPorts(batch.map((t) => t.port)));
    await manifest.close();

    expect(summary.interrupted).toBe(true);
    // Only the first wave (concurrency 3) was ever started; the rest stayed in the queue.
    expect(summary.notStarted).toBeGreaterThanOrEqual(batch.length - 3);
    const started = summary.records.filter((r) => r.outcome !== "not-started");
    expect(started.length).toBeGreaterThan(0);
    for (const r of started) {
      // Each one either finished (it had committed) or is undone.
      if (r.ok) continue;
      expect(r.outcome).toBe("INTERRUPTED");
      expect(["rolled-back", "nothing-registered"]).toContain(r.rollback);
    }
    expect(started.some((r) => r.rollback === "rolled-back")).toBe(true);
    expect(await activeUnattached()).toEqual([]);
    expect((await ledgerState(rig.ledger.file)).openRuns).toEqual([]);
    // Whatever is ACTIVE now beyond the earlier test is exactly what this run finished.
    const added = (await activeIds()).filter((id) => !before.has(id)).sort();
    expect(added).toEqual(
      summary.records
        .filter((r) => r.ok)
        .map((r) => r.certificateId)
        .sort(),
    );
  }, 90_000);

  it("a station that died mid-registration: the next start rolls its open run back, then provisions the device", async () => {
    const [twin] = await startTwins(1, join(rig.dir, "crash"));
    if (!twin) throw new Error("no twin");
    twins.push(twin);
    // The "dead" station: its AttachThingPrincipal never returns, as if the process stopped there.
    const stuckRegistry = new Proxy(rig.target.registry, {
      get(t, prop, receiver) {
        if (prop === "attachThingPrincipal") return () => new Promise(() => {});
        const v = Reflect.get(t, prop, receiver);
        return typeof v === "function" ? v.bind(t) : v;
      },
    });
    const deadLedger = await Ledger.open(rig.ledger.file);
    const session = await openDevice({ port: twin.port });
    const noProgress: Progress = { timings: [], info: () => {}, step: (_n, _l, run) => run() };
    void provisionDevice(
      {
        session,
        target: { ...rig.target, registry: stuckRegistry },
        ledger: deadLedger,
        observer: rig.observer,
        progress: noProgress,
      },
      plan,
    ).catch(() => undefined);
    const deadline = Date.now() + 20_000;
    let open = (await ledgerState(rig.ledger.file)).openRuns;
    while (!open.some((r) => r.device === twin.deviceId && r.pendingOps.includes("AttachThingPrincipal"))) {
      if (Date.now() > deadline) throw new Error("the dead station never reached AttachThingPrincipal");
      await new Promise((r) => setTimeout(r, 50));
      open = (await ledgerState(rig.ledger.file)).openRuns;
    }
    const leaked = open.find((r) => r.device === twin.deviceId)?.certificateId;
    expect(leaked).toMatch(/^[0-9a-f]{64}$/);
    await session.close();
    await deadLedger.close();

    const { station, manifest } = await rig.station({ concurrency: 1 });
    const summary = await station.run(explicitPorts([twin.port]));
    await manifest.close();
    expect(summary.resumeCleanup?.cleaned.map((c) => c.device)).toContain(twin.deviceId);
    expect(summary.records.map((r) => r.outcome)).toEqual(["provisioned"]);
    const fresh = summary.records[0]?.certificateId;
    expect(fresh).not.toBe(leaked);
    const active = await activeIds();
    expect(active).toContain(fresh);
    expect(active).not.toContain(leaked);
    expect(await activeUnattached()).toEqual([]);
    expect((await ledgerState(rig.ledger.file)).openRuns).toEqual([]);
  }, 60_000);

  it("a device the ledger says is finished but which came back erased is refused, not given a second certificate", async () => {
    const [twin] = await startTwins(1, join(rig.dir, "erase"));
    if (!twin) throw new Error("no twin");
    twins.push(twin);
    const first = await rig.station({ concurrency: 1 });
    expect((await first.station.run(explicitPorts([twin.port]))).ok).toBe(1);
    await first.manifest.close();
    await twin.stop();
    // Same device id, empty flash: what an erased chip looks like.
    const erased = await startTwin({ stateDir: join(rig.dir, "erase", "erased"), deviceId: twin.deviceId });
    twins.push(erased);
    const issued = (await rig.target.registry.listCertificates()).length;
    const again = await rig.station({ concurrency: 1 });
    const summary = await again.station.run(explicitPorts([erased.port]));
    await again.manifest.close();
    expect(summary.records.map((r) => [r.outcome, r.rollback])).toEqual([
      ["DEVICE_MISMATCH", "nothing-registered"],
    ]);
    expect(summary.records[0]?.error?.message).toMatch(/ledger says device .* was provisioned/);
    expect((await rig.target.registry.listCertificates()).length).toBe(issued);
  }, 60_000);
});
