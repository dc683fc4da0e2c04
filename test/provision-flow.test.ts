import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { exitCodeFor } from "../src/cli/exit-codes.js";
import { openDevice } from "../src/commands/device-link.js";
import { asProvisionError, type ErrorCode } from "../src/errors.js";
import type { Ledger } from "../src/ledger/index.js";
import type { FaultConfig } from "../src/local-iot/faults.js";
import type { LocalIot } from "../src/local-iot/service.js";
import type { Observer } from "../src/observer/index.js";
import { type ProvisionPlan, type ProvisionResult, provisionDevice } from "../src/provision/pipeline.js";
import type { CloudTarget } from "../src/provision/target.js";
import { ensureTwinBuilt, startTwin, type Twin } from "../src/twin/index.js";
import {
  type LocalCloud,
  openLocalCloud,
  quietProgress,
  activeUnattached as sharedActiveUnattached,
  testPlan,
} from "./local-cloud.test-helper.js";

let dir: string;
let iot: LocalIot;
let target: CloudTarget;
let observer: Observer;
let ledger: Ledger;
let twinCount = 0;

const plan = testPlan({ subject: { O: "flow test" } });

async function newTwin(): Promise<Twin> {
  twinCount += 1;
  return startTwin({ stateDir: join(dir, `twin-${twinCount}`) });
}

type Outcome = { ok: true; result: ProvisionResult } | { ok: false; code: ErrorCode; message: string };

async function runOnce(
  options: {
    faults?: FaultConfig;
    after?: (step: string, twin: Twin) => Promise<void>;
    plan?: Partial<ProvisionPlan>;
  } = {},
) {
  iot.setFaults(options.faults ?? {});
  const twin = await newTwin();
  const session = await openDevice({ port: twin.port });
  let outcome: Outcome;
  try {
    const result = await provisionDevice(
      {
        session,
        target,
        ledger,
        observer,
        progress: quietProgress(
          options.after ? (s) => options.after?.(s, twin) ?? Promise.resolve() : undefined,
        ),
      },
      { ...plan, ...options.plan },
    );
    outcome = { ok: true, result };
  } catch (e) {
    const err = asProvisionError(e);
    outcome = { ok: false, code: err.code, message: err.message };
  } finally {
    iot.setFaults({});
    await session.close().catch(() => undefined);
    await twin.stop();
  }
  return outcome;
}

/** The invariant, checked through the real SDK: every ACTIVE certificate is attached to a thing. */
const activeUnattached = () => sharedActiveUnattached(target.registry);

let cloud: LocalCloud;

beforeAll(async () => {
  await ensureTwinBuilt();
  cloud = await openLocalCloud("provision-flow-", { maxAttempts: 2 });
  ({ dir, iot, target, observer, ledger } = cloud);
}, 120_000);

afterAll(async () => {
  await cloud?.close();
});

describe("provisioning a twin against the local AWS IoT", () => {
  it("succeeds end to end and the first message is counter 0 from that thing", async () => {
    const outcome = await runOnce();
    if (!outcome.ok) throw new Error(`${outcome.code}: ${outcome.message}`);
    const r = outcome.result;
    expect(r.mode).toBe("provisioned");
    expect(JSON.parse(r.firstMessage?.payload ?? "null")).toEqual({ counter: 0 });
    expect(r.firstMessage?.topic).toBe(`${r.thingName}/counter`);
    const cert = await target.registry.describeCertificate(r.certificateId ?? "");
    expect(cert?.status).toBe("ACTIVE");
    expect(await target.registry.listPrincipalThings(cert?.certificateArn ?? "")).toEqual([r.thingName]);
    expect(await activeUnattached()).toEqual([]);
  });

  it("switches to 921600 baud after HELLO, completes, and locks after the restart", async () => {
    const steps: string[] = [];
    const outcome = await runOnce({
      plan: { switchBaud: 921_600, lock: true },
      after: async (step) => {
        steps.push(step);
      },
    });
    if (!outcome.ok) throw new Error(`${outcome.code}: ${outcome.message}`);
    expect(steps.slice(0, 2)).toEqual(["hello", "baud"]);
    // LOCK goes out after the restart, at the boot rate again.
    expect(steps.at(-1)).toBe("lock");
    expect(outcome.result.locked).toBe(true);
    expect(JSON.parse(outcome.result.firstMessage?.payload ?? "null")).toEqual({ counter: 0 });
  });

  it("the reference walkthrough's fixed topic topic_001 works under its own least-privilege policy", async () => {
    const outcome = await runOnce({ plan: { topic: "topic_001", policyName: "topic-001-policy" } });
    if (!outcome.ok) throw new Error(`${outcome.code}: ${outcome.message}`);
    expect(outcome.result.topic).toBe("topic_001");
    expect(outcome.result.firstMessage?.topic).toBe("topic_001");
    expect(JSON.parse(outcome.result.firstMessage?.payload ?? "null")).toEqual({ counter: 0 });
  });

  it("a second run verifies instead of registering; --force rotates and retires the old certificate after the new one publishes; --lock locks", async () => {
    const twin = await newTwin();
    const run = async (extra: Partial<ProvisionPlan>) => {
      const session = await openDevice({ port: twin.port });
      try {
        return await provisionDevice(
          { session, target, ledger, observer, progress: quietProgress() },
          { ...plan, ...extra },
        );
      } finally {
        await session.close();
      }
    };
    try {
      const first = await run({});
      expect(first.mode).toBe("provisioned");
      const certsAfterFirst = (await target.registry.listCertificates()).length;

      const again = await run({});
      expect(again.mode).toBe("verified");
      expect(again.thingName).toBe(first.thingName);
      expect((await target.registry.listCertificates()).length).toBe(certsAfterFirst);

      const rotated = await run({ force: true, lock: true });
      expect(rotated.mode).toBe("rotated");
      expect(rotated.certificateId).not.toBe(first.certificateId);
      expect(rotated.retiredCertificateId).toBe(first.certificateId);
      expect((await target.registry.describeCertificate(first.certificateId ?? ""))?.status).toBe("INACTIVE");
      const current = await target.registry.describeCertificate(rotated.certificateId ?? "");
      expect(current?.status).toBe("ACTIVE");
      expect(await target.registry.listPrincipalThings(current?.certificateArn ?? "")).toEqual([
        first.thingName,
      ]);
      expect(rotated.locked).toBe(true);

      // Locked: still verifiable, no longer rotatable.
      expect((await run({})).mode).toBe("verified");
      await expect(run({ force: true })).rejects.toMatchObject({ code: "DEVICE_REFUSED" });
      expect(await activeUnattached()).toEqual([]);
    } finally {
      await twin.stop();
    }
  }, 60_000);

  // Every control-plane call the pipeline makes, throttled every time: the run must fail as
  // CLOUD_THROTTLED (or, for calls the pipeline does not make, succeed) and leak nothing.
  const operations = [
    "CreateCertificateFromCsr",
    "DescribeThing",
    "CreateThing",
    "GetPolicy",
    "CreatePolicy",
    "AttachPolicy",
    "AttachThingPrincipal",
  ];
  for (const op of operations) {
    it(`throttling on ${op} fails cleanly or succeeds, never leaking`, async () => {
      const before = iot.stats()[op]?.throttled ?? 0;
      const outcome = await runOnce({ faults: { operations: { [op]: { throttleRate: 1 } } } });
      const throttled = (iot.stats()[op]?.throttled ?? 0) - before;
      if (throttled > 0) {
        expect(outcome.ok).toBe(false);
        if (!outcome.ok) {
          expect(outcome.code).toBe("CLOUD_THROTTLED");
          expect(exitCodeFor(outcome.code)).toBe(22);
        }
      } else {
        expect(outcome.ok).toBe(true);
      }
      expect(await activeUnattached()).toEqual([]);
    });
  }

  it("random throttling on every API (30%) is absorbed by retries or fails cleanly", async () => {
    const outcomes: Outcome[] = [];
    for (let i = 0; i < 3; i++) {
      outcomes.push(await runOnce({ faults: { seed: 7 + i, default: { throttleRate: 0.3 } } }));
      expect(await activeUnattached()).toEqual([]);
    }
    for (const o of outcomes) if (!o.ok) expect(o.code).toBe("CLOUD_THROTTLED");
  });

  it("a 5xx after the certificate exists rolls the certificate back", async () => {
    const certsBefore = (await target.registry.listCertificates()).length;
    const outcome = await runOnce({ faults: { operations: { AttachPolicy: { serverErrorRate: 1 } } } });
    expect(outcome.ok).toBe(false);
    if (!outcome.ok) {
      expect(outcome.code).toBe("CLOUD_FAILED");
      expect(exitCodeFor(outcome.code)).toBe(24);
    }
    // The certificate was created, then deleted by the rollback.
    expect((await target.registry.listCertificates()).length).toBe(certsBefore);
    expect(await activeUnattached()).toEqual([]);
  });

  it("an unclear CreateCertificateFromCsr (5xx after it took effect) leaks nothing", async () => {
    const outcome = await runOnce({
      faults: { operations: { CreateCertificateFromCsr: { serverErrorAfterCommitRate: 1 } } },
    });
    expect(outcome.ok).toBe(false);
    expect(await activeUnattached()).toEqual([]);
  });

  it("the device vanishing after registration is a device error and the registration is rolled back", async () => {
    const certsBefore = (await target.registry.listCertificates()).length;
    const outcome = await runOnce({
      after: async (step, twin) => {
        if (step === "register") await twin.kill("SIGKILL");
      },
    });
    expect(outcome.ok).toBe(false);
    if (!outcome.ok) {
      expect(["DEVICE_SILENT", "PORT_IO"]).toContain(outcome.code);
      expect([13, 14]).toContain(exitCodeFor(outcome.code));
    }
    expect((await target.registry.listCertificates()).length).toBe(certsBefore);
    expect(await activeUnattached()).toEqual([]);
  });

  it("asks GetPolicy once per policy per process, not once per device", () => {
    // Two policies were used above (the default and topic-001-policy), by more than a dozen runs.
    expect(iot.stats().GetPolicy?.ok ?? 0).toBeLessThanOrEqual(2);
    expect(iot.stats().CreateThing?.ok ?? 0).toBeGreaterThan(5);
  });

  it("the failure classes map to distinct exit codes", () => {
    const codes = [
      "CLOUD_THROTTLED",
      "CLOUD_FAILED",
      "DEVICE_SILENT",
      "VERIFY_TIMEOUT",
      "CSR_REJECTED",
    ] as const;
    expect(new Set(codes.map(exitCodeFor)).size).toBe(codes.length);
  });
});
