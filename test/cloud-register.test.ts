/**
 * Registration and its rollback against the real local AWS IoT (HTTP
 * control plane on 127.0.0.1, reached through @aws-sdk/client-iot with an
 * endpoint override), with injected faults. After every scenario the
 * service's own state is listed: no certificate may be ACTIVE without being
 * attached to its thing.
 */
import { execFileSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { rejection } from "../src/errors.test-helper.js";
import {
  cleanupFromLedger,
  type Ledger,
  ledgerState,
  readLedger,
  recordCommitted,
  recordFirstPublish,
  registerWithRollback,
  rollbackRegistration,
} from "../src/ledger/index.js";
import type { LocalIot } from "../src/local-iot/service.js";
import type { IotStore } from "../src/local-iot/store.js";
import type { AwsCloudRegistry } from "../src/registry/index.js";
import {
  counter,
  newCsr,
  POLICY,
  policyDocument,
  registerFresh,
  serviceState,
  thingExists,
  useRegisterCase,
} from "./cloud-register.test-helper.js";

let iot: LocalIot;
let registry: AwsCloudRegistry;
let ledger: Ledger;
let ledgerFile: string;
useRegisterCase((s) => {
  ({ iot, registry, ledger, ledgerFile } = s);
});

describe("registerWithRollback on the local AWS IoT", () => {
  it("registers: certificate ACTIVE for the CSR's key, thing with attributes, policy and exclusive attachment", async () => {
    const csrPem = newCsr();
    const t0 = performance.now();
    const reg = await registerWithRollback(registry, ledger, {
      csrPem,
      thingName: "thing-ok",
      attributes: { deviceId: "a1b2c3d4e5f6", board: "esp32-devkitc" },
      policyName: POLICY,
      policyDocument,
      deviceId: "a1b2c3d4e5f6",
    });
    const elapsedMs = performance.now() - t0;
    expect(elapsedMs).toBeLessThan(5000);

    const service = iot.store as unknown as IotStore;
    const cert = service.describeCertificate(reg.certificateId);
    expect(cert.status).toBe("ACTIVE");
    expect(service.principalThings(reg.certificateArn)).toEqual(["thing-ok"]);
    expect(service.principalPolicies(reg.certificateArn).map((p) => p.policyName)).toEqual([POLICY]);
    expect(service.describeThing("thing-ok").attributes).toEqual({
      deviceId: "a1b2c3d4e5f6",
      board: "esp32-devkitc",
    });
    // The policy was filled with the account the certificate was issued in.
    expect(service.getPolicy(POLICY).policyDocument).toContain(
      `arn:aws:iot:${iot.region}:${iot.accountId}:client/`,
    );
    // The certificate's key is the CSR's (checked independently with openssl).
    const certKey = execFileSync("openssl", ["x509", "-pubkey", "-noout"], {
      input: reg.certificatePem,
    }).toString();
    const csrKey = execFileSync("openssl", ["req", "-pubkey", "-noout"], { input: csrPem }).toString();
    expect(certKey).toBe(csrKey);
    expect(reg.thingCreated).toBe(true);
    expect(reg.policyCreated).toBe(true);

    // Every cloud call has its intent on disk before its result.
    const records = await readLedger(ledgerFile);
    const ops = records
      .filter((r) => r.event === "intent" || r.event === "done")
      .map((r) => `${r.event}:${r.op}`);
    expect(ops).toEqual([
      "intent:CreateCertificateFromCsr",
      "done:CreateCertificateFromCsr",
      "intent:DescribeThing",
      "done:DescribeThing",
      "intent:CreateThing",
      "done:CreateThing",
      "intent:EnsurePolicy",
      "done:EnsurePolicy",
      "intent:AttachPolicy",
      "done:AttachPolicy",
      "intent:AttachThingPrincipal",
      "done:AttachThingPrincipal",
    ]);
    expect(records.at(-1)?.event).toBe("registered");

    expect((await ledgerState(ledgerFile)).devices.a1b2c3d4e5f6?.status).toBe("registered");
    await recordCommitted(ledger, { run: reg.run, deviceId: "a1b2c3d4e5f6", thingName: "thing-ok" });
    expect((await ledgerState(ledgerFile)).devices.a1b2c3d4e5f6?.provisioned).toBe(true);
    await recordFirstPublish(
      ledger,
      { run: reg.run, deviceId: "a1b2c3d4e5f6", thingName: "thing-ok" },
      { topic: "thing-ok/counter" },
    );
    const done = (await ledgerState(ledgerFile)).devices.a1b2c3d4e5f6;
    expect(done?.finished).toBe(true);
    expect(done?.openRuns).toEqual([]);
    console.error(`registration against the local AWS IoT: ${elapsedMs.toFixed(0)} ms`);
  });

  it("throttling on CreateCertificateFromCsr: nothing is created, the run is closed", async () => {
    iot.setFaults({ operations: { CreateCertificateFromCsr: { throttleRate: 1 } } });
    const before = serviceState().length;
    const requestsBefore = counter("CreateCertificateFromCsr", "requests");
    const e = await rejection(registerFresh("thing-t0"));
    expect(e.code).toBe("CLOUD_THROTTLED");
    expect(e.message).toMatch(/CreateCertificateFromCsr/);
    // Throttling (answered before any work) is retried, up to maxAttempts.
    expect(counter("CreateCertificateFromCsr", "requests") - requestsBefore).toBe(3);
    expect(serviceState().length).toBe(before);
    expect(thingExists("thing-t0")).toBe(false);
    const state = await ledgerState(ledgerFile);
    expect(state.openRuns).toEqual([]);
    expect(state.runs[0]?.status).toBe("abandoned");
  });

  for (const op of ["DescribeThing", "CreateThing", "GetPolicy", "AttachPolicy", "AttachThingPrincipal"]) {
    it(`throttling on ${op} after the certificate exists is rolled back completely`, async () => {
      const thingName = `thing-throttle-${op}`;
      iot.setFaults({ operations: { [op]: { throttleRate: 1 } } });
      const before = new Set(serviceState().map((c) => c.id));
      const throttledBefore = counter(op, "throttled");
      const e = await rejection(
        registerWithRollback(registry, ledger, {
          csrPem: newCsr(),
          thingName,
          policyName: `${POLICY}-${op}`,
          policyDocument,
        }),
      );
      expect(e.code).toBe("CLOUD_THROTTLED");
      expect(e.message).toContain(op);
      expect(e.details.rolledBack).toBe(true);
      // Retried by the SDK (3 attempts), then given up.
      expect(counter(op, "throttled") - throttledBefore).toBe(3);
      expect(serviceState().filter((c) => !before.has(c.id))).toEqual([]);
      expect(thingExists(thingName)).toBe(false);
      const records = await readLedger(ledgerFile);
      const rollbackOps = records
        .filter((r) => r.phase === "rollback" && r.event === "done")
        .map((r) => r.op);
      expect(rollbackOps.indexOf("UpdateCertificate")).toBeLessThan(rollbackOps.indexOf("DeleteCertificate"));
      expect(records.at(-1)?.event).toBe("rolled-back");
      expect((await ledgerState(ledgerFile)).openRuns).toEqual([]);
    });
  }

  it("random throttling on every API (seeded) is absorbed by the SDK's retries", async () => {
    const throttledBefore = Object.values(iot.stats()).reduce((n, s) => n + s.throttled, 0);
    iot.setFaults({ seed: 7, default: { throttleRate: 0.3 } });
    const results = await Promise.allSettled(
      [0, 1, 2, 3].map((i) =>
        registerWithRollback(registry, ledger, {
          csrPem: newCsr(),
          thingName: `thing-rand-${i}`,
          policyName: POLICY,
          policyDocument,
        }),
      ),
    );
    const throttled = Object.values(iot.stats()).reduce((n, s) => n + s.throttled, 0);
    expect(throttled).toBeGreaterThan(throttledBefore);
    // Whatever failed was rolled back or left open for cleanup; nothing is left ACTIVE and unattached.
    iot.setFaults({});
    await cleanupFromLedger(registry, ledgerFile);
    const ok = results.filter((r) => r.status === "fulfilled").length;
    expect(serviceState().filter((c) => c.status === "ACTIVE").length).toBeGreaterThanOrEqual(ok);
    expect((await ledgerState(ledgerFile)).openRuns).toEqual([]);
  });

  it("a 5xx after CreateCertificateFromCsr took effect: not retried, the issued certificate is found and removed", async () => {
    iot.setFaults({ operations: { CreateCertificateFromCsr: { serverErrorAfterCommitRate: 1 } } });
    const before = new Set(serviceState().map((c) => c.id));
    const requestsBefore = counter("CreateCertificateFromCsr", "requests");
    const csrPem = newCsr();
    const e = await rejection(
      registerWithRollback(registry, ledger, {
        csrPem,
        thingName: "thing-5xx",
        policyName: POLICY,
        policyDocument,
      }),
    );
    expect(e.code).toBe("CLOUD_FAILED");
    expect(e.message).toMatch(/CreateCertificateFromCsr failed: InternalFailureException/);
    // One request: a retry would have issued a second certificate.
    expect(counter("CreateCertificateFromCsr", "requests") - requestsBefore).toBe(1);
    expect(serviceState().filter((c) => !before.has(c.id))).toEqual([]);
    const records = await readLedger(ledgerFile);
    const found = records.find((r) => r.op === "FindUnclearCertificates" && r.event === "done");
    expect(found?.data?.certificateIds).toHaveLength(1);
    expect(records.at(-1)?.event).toBe("rolled-back");
  });

  for (const op of ["CreateThing", "AttachPolicy", "AttachThingPrincipal"]) {
    it(`a 5xx after ${op} took effect (answer lost on every retry) is rolled back completely`, async () => {
      const thingName = `thing-lost-${op}`;
      iot.setFaults({ operations: { [op]: { serverErrorAfterCommitRate: 1 } } });
      const before = new Set(serviceState().map((c) => c.id));
      const e = await rejection(registerFresh(thingName));
      expect(e.code).toBe("CLOUD_FAILED");
      expect(e.message).toContain(`${op} failed: InternalFailureException`);
      expect(e.details.rolledBack).toBe(true);
      expect(serviceState().filter((c) => !before.has(c.id))).toEqual([]);
      // The thing did get created by this run (its answer was lost), so it goes too.
      expect(thingExists(thingName)).toBe(false);
    });
  }

  for (const op of [
    "UpdateCertificate",
    "ListAttachedPolicies",
    "DetachPolicy",
    "DeleteCertificate",
    "DeleteThing",
  ]) {
    it(`throttling on the rollback's ${op}: ROLLBACK_INCOMPLETE, then cleanup leaves nothing`, async () => {
      const thingName = `thing-rbthrottle-${op}`;
      iot.setFaults({
        operations: { AttachThingPrincipal: { serverErrorRate: 1 }, [op]: { throttleRate: 1 } },
      });
      const before = new Set(serviceState().map((c) => c.id));
      const e = await rejection(registerFresh(thingName));
      expect(e.code).toBe("ROLLBACK_INCOMPLETE");
      expect(e.message).toContain(op);
      expect((await ledgerState(ledgerFile)).openRuns.length).toBe(1);
      iot.setFaults({});
      const report = await cleanupFromLedger(registry, ledgerFile);
      expect(report.failed).toEqual([]);
      expect(serviceState().filter((c) => !before.has(c.id))).toEqual([]);
      expect(thingExists(thingName)).toBe(false);
    });
  }

  it("throttling on DetachThingPrincipal while rolling back a registration: ROLLBACK_INCOMPLETE, then cleanup", async () => {
    const reg = await registerFresh("thing-detach");
    iot.setFaults({ operations: { DetachThingPrincipal: { throttleRate: 1 } } });
    const e = await rejection(rollbackRegistration(registry, ledger, reg));
    expect(e.code).toBe("ROLLBACK_INCOMPLETE");
    // Deactivated first: the certificate can no longer connect although it is still attached.
    expect(serviceState().find((c) => c.id === reg.certificateId)?.status).toBe("INACTIVE");
    iot.setFaults({});
    await cleanupFromLedger(registry, ledgerFile);
    expect(serviceState().some((c) => c.id === reg.certificateId)).toBe(false);
    expect(thingExists("thing-detach")).toBe(false);
  });

  it("an unclear failure while reading an existing thing never deletes that thing", async () => {
    await registry.createThing("thing-preexisting", {});
    iot.setFaults({ operations: { DescribeThing: { serverErrorRate: 1 } } });
    const e = await rejection(registerFresh("thing-preexisting"));
    expect(e.code).toBe("CLOUD_FAILED");
    iot.setFaults({});
    expect(thingExists("thing-preexisting")).toBe(true);
  });
});
