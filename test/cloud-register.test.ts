/**
 * Registration, rollback, ledger and cleanup against the real local AWS IoT
 * (HTTP control plane on 127.0.0.1, reached through @aws-sdk/client-iot with
 * an endpoint override), with injected faults. After every scenario the
 * service's own state is listed: no certificate may be ACTIVE without being
 * attached to its thing.
 */
import { execFileSync, spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { csrPublicKeySpki } from "../src/csr/index.js";
import { isProvisionError, type ProvisionError } from "../src/errors.js";
import {
  cleanupFromLedger,
  Ledger,
  ledgerState,
  readLedger,
  recordCommitted,
  recordFirstPublish,
  registerWithRollback,
  rollbackRegistration,
} from "../src/ledger/index.js";
import { type LocalIot, startLocalIot } from "../src/local-iot/service.js";
import type { IotStore } from "../src/local-iot/store.js";
import { type AwsCloudRegistry, createAwsRegistry, leastPrivilegePolicy } from "../src/registry/index.js";

let dir: string;
let iot: LocalIot;
let registry: AwsCloudRegistry;
let ledger: Ledger;
let ledgerFile: string;
let csrCount = 0;

const POLICY = "provision-test-policy";
const policyDocument = (a: { region: string; accountId: string }) => leastPrivilegePolicy(a);

/** A fresh P-256 CSR from the openssl CLI (independent of the code under test). */
function newCsr(): string {
  const n = csrCount++;
  const key = join(dir, `k${n}.pem`);
  execFileSync("openssl", ["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", key]);
  return execFileSync("openssl", ["req", "-new", "-key", key, "-subj", `/CN=dev-${n}`]).toString();
}

/** The service's own view, not the client's. */
function serviceState() {
  const reg = iot.store as unknown as IotStore;
  const certs = reg.listCertificates(undefined, 250, false).items;
  return certs.map((c) => ({
    id: c.certificateId,
    status: c.status,
    things: reg.principalThings(c.certificateArn),
  }));
}

function thingExists(name: string): boolean {
  try {
    (iot.store as unknown as IotStore).describeThing(name);
    return true;
  } catch {
    return false;
  }
}

function assertNoActiveUnattached(): void {
  const leaked = serviceState().filter((c) => c.status === "ACTIVE" && c.things.length === 0);
  expect(leaked).toEqual([]);
}

/** Request counters of the service are cumulative: tests look at differences. */
function counter(op: string, field: "requests" | "throttled"): number {
  return iot.stats()[op]?.[field] ?? 0;
}

async function caught(p: Promise<unknown>): Promise<ProvisionError> {
  try {
    await p;
  } catch (e) {
    if (isProvisionError(e)) return e;
    throw e;
  }
  throw new Error("expected a ProvisionError");
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "cloud-register-"));
  iot = await startLocalIot({ stateDir: join(dir, "iot"), withoutBroker: true, detachDelayMs: 300 });
  registry = await createAwsRegistry({
    region: iot.region,
    endpoint: iot.controlPlaneUrl,
    credentials: iot.credentials,
    maxAttempts: 3,
    detachWait: { timeoutMs: 5000, intervalMs: 50 },
  });
});

afterAll(async () => {
  await registry?.close();
  await iot?.stop();
  rmSync(dir, { recursive: true, force: true });
});

let caseNo = 0;
beforeEach(async () => {
  iot.setFaults({});
  ledgerFile = join(dir, `ledger-${caseNo++}.jsonl`);
  ledger = await Ledger.open(ledgerFile);
});

afterEach(async () => {
  iot.setFaults({});
  await ledger.close();
  assertNoActiveUnattached();
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
    const e = await caught(
      registerWithRollback(registry, ledger, {
        csrPem: newCsr(),
        thingName: "thing-t0",
        policyName: POLICY,
        policyDocument,
      }),
    );
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
      const e = await caught(
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
    const e = await caught(
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
      const e = await caught(
        registerWithRollback(registry, ledger, {
          csrPem: newCsr(),
          thingName,
          policyName: POLICY,
          policyDocument,
        }),
      );
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
      const e = await caught(
        registerWithRollback(registry, ledger, {
          csrPem: newCsr(),
          thingName,
          policyName: POLICY,
          policyDocument,
        }),
      );
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
    const reg = await registerWithRollback(registry, ledger, {
      csrPem: newCsr(),
      thingName: "thing-detach",
      policyName: POLICY,
      policyDocument,
    });
    iot.setFaults({ operations: { DetachThingPrincipal: { throttleRate: 1 } } });
    const e = await caught(rollbackRegistration(registry, ledger, reg));
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
    const e = await caught(
      registerWithRollback(registry, ledger, {
        csrPem: newCsr(),
        thingName: "thing-preexisting",
        policyName: POLICY,
        policyDocument,
      }),
    );
    expect(e.code).toBe("CLOUD_FAILED");
    iot.setFaults({});
    expect(thingExists("thing-preexisting")).toBe(true);
  });

  it("a failed rollback leaves an open entry (ROLLBACK_INCOMPLETE) that cleanup finishes, idempotently", async () => {
    iot.setFaults({
      operations: { AttachThingPrincipal: { serverErrorRate: 1 }, DeleteCertificate: { serverErrorRate: 1 } },
    });
    const before = new Set(serviceState().map((c) => c.id));
    const e = await caught(
      registerWithRollback(registry, ledger, {
        csrPem: newCsr(),
        thingName: "thing-rb",
        policyName: POLICY,
        policyDocument,
        deviceId: "0000000000rb",
      }),
    );
    expect(e.code).toBe("ROLLBACK_INCOMPLETE");
    expect(e.hint).toBe(
      `cloud resources of this run may remain; run \`provision cleanup --ledger ${ledgerFile}\``,
    );
    // The certificate was deactivated before the failing delete: nothing ACTIVE stays unattached.
    const left = serviceState().filter((c) => !before.has(c.id));
    expect(left.map((c) => c.status)).toEqual(["INACTIVE"]);
    const open = await ledgerState(ledgerFile);
    expect(open.openRuns.map((r) => r.status)).toEqual(["rollback-open"]);
    expect(open.devices["0000000000rb"]?.openRuns.length).toBe(1);

    iot.setFaults({});
    await ledger.close();
    const report = await cleanupFromLedger(registry, ledgerFile);
    expect(report.failed).toEqual([]);
    expect(report.cleaned.map((c) => c.thing)).toEqual(["thing-rb"]);
    expect(serviceState().filter((c) => !before.has(c.id))).toEqual([]);
    expect(thingExists("thing-rb")).toBe(false);
    const again = await cleanupFromLedger(registry, ledgerFile);
    expect(again.cleaned).toEqual([]);
    expect((await ledgerState(ledgerFile)).openRuns).toEqual([]);
    ledger = await Ledger.open(ledgerFile);
  });

  it("a process killed mid-registration (SIGKILL) leaves a ledger that cleanup finishes", async () => {
    // A real child process registers; the service answers AttachThingPrincipal slowly, and the
    // child is killed while waiting for that answer, after its intent reached the disk.
    iot.setFaults({ operations: { AttachThingPrincipal: { latencyMs: 20_000 } } });
    // .mts: the temp dir has no package.json saying "type": "module".
    const script = join(dir, "register-child.mts");
    const src = (m: string) => JSON.stringify(pathToFileURL(join(import.meta.dirname, "..", "src", m)).href);
    writeFileSync(
      script,
      `import { Ledger, registerWithRollback } from ${src("ledger/index.js")};
import { createAwsRegistry, leastPrivilegePolicy } from ${src("registry/index.js")};
const env = JSON.parse(process.env.CHILD_ARGS);
const registry = await createAwsRegistry({ region: env.region, endpoint: env.endpoint, credentials: env.credentials });
const ledger = await Ledger.open(env.ledgerFile);
await registerWithRollback(registry, ledger, {
  csrPem: env.csrPem, thingName: "thing-killed", policyName: env.policy, policyDocument: (a) => leastPrivilegePolicy(a),
});
`,
    );
    await ledger.close();
    const child = spawn(process.execPath, ["--import", "tsx", script], {
      cwd: join(import.meta.dirname, ".."),
      stdio: ["ignore", "ignore", "pipe"],
      env: {
        ...process.env,
        CHILD_ARGS: JSON.stringify({
          region: iot.region,
          endpoint: iot.controlPlaneUrl,
          credentials: iot.credentials,
          ledgerFile,
          csrPem: newCsr(),
          policy: POLICY,
        }),
      },
    });
    let childErr = "";
    child.stderr?.on("data", (d) => {
      childErr += d;
    });
    const exited = once(child, "exit");
    let childGone = false;
    void exited.then(() => {
      childGone = true;
    });
    let sawIntent = false;
    for (let i = 0; i < 300 && !sawIntent && !childGone; i++) {
      await new Promise((r) => setTimeout(r, 50));
      sawIntent = (await readLedger(ledgerFile)).some(
        (r) => r.event === "intent" && r.op === "AttachThingPrincipal",
      );
    }
    expect(sawIntent, childErr).toBe(true);
    child.kill("SIGKILL");
    const [, signal] = await exited;
    expect(signal).toBe("SIGKILL");
    iot.setFaults({});

    const state = await ledgerState(ledgerFile);
    expect(state.openRuns.map((r) => [r.status, r.pendingOps])).toEqual([
      ["in-progress", ["AttachThingPrincipal"]],
    ]);
    // The killed run left an ACTIVE certificate without its thing: exactly what cleanup is for.
    expect(serviceState().some((c) => c.status === "ACTIVE" && c.things.length === 0)).toBe(true);
    const report = await cleanupFromLedger(registry, ledgerFile);
    expect(report.cleaned.length).toBe(1);
    expect(thingExists("thing-killed")).toBe(false);
    ledger = await Ledger.open(ledgerFile);
  });

  it("a process killed while CreateCertificateFromCsr was in flight (intent on disk, no answer): cleanup finds and removes the certificate", async () => {
    // What a kill leaves: the intent reached the disk, the service issued the certificate, the answer
    // (and the "done" record) never came. Written as registerWithRollback writes it.
    const csrPem = newCsr();
    const spki = execFileSync("openssl", ["pkey", "-pubin", "-outform", "DER"], {
      input: execFileSync("openssl", ["req", "-pubkey", "-noout"], { input: csrPem }),
    });
    const spkiSha256 = execFileSync("openssl", ["dgst", "-sha256", "-r"], { input: spki })
      .toString()
      .slice(0, 64);
    await ledger.append({
      run: "killed-during-create",
      thing: "thing-killed-create",
      event: "intent",
      phase: "register",
      op: "CreateCertificateFromCsr",
      data: { spkiSha256, csrSha256: "x", since: new Date().toISOString() },
    });
    const issued = await registry.createCertificateFromCsr(csrPem, true);
    await ledger.close();
    const state = await ledgerState(ledgerFile);
    expect(state.openRuns.map((r) => r.pendingOps)).toEqual([["CreateCertificateFromCsr"]]);

    const report = await cleanupFromLedger(registry, ledgerFile);
    expect(report.failed).toEqual([]);
    expect(serviceState().map((c) => c.id)).not.toContain(issued.certificateId);
    expect(report.cleaned[0]?.certificates).toEqual([issued.certificateId]);
    expect((await ledgerState(ledgerFile)).openRuns).toEqual([]);
    ledger = await Ledger.open(ledgerFile);
  });

  it("cleanup of an interrupted run never deletes the thing a later, completed run of the same device now uses", async () => {
    // Run A created the thing and was killed before attaching; run B (a plain re-run, no cleanup
    // in between) found the thing, attached its certificate and finished.
    const thingName = "thing-taken-over";
    const a = await registry.createCertificateFromCsr(newCsr(), true);
    const created = await registry.createThing(thingName, {});
    expect(created.created).toBe(true);
    const ids = { run: "run-a", device: "dev-taken", thing: thingName };
    const op = (o: string, data: Record<string, unknown>, done: Record<string, unknown>) => [
      ledger.append({ ...ids, event: "intent", phase: "register", op: o, data }),
      ledger.append({ ...ids, event: "done", phase: "register", op: o, data: { ...data, ...done } }),
    ];
    await Promise.all([
      ...op(
        "CreateCertificateFromCsr",
        {},
        { certificateId: a.certificateId, certificateArn: a.certificateArn },
      ),
      ...op("DescribeThing", { thingName }, { exists: false }),
      ...op("CreateThing", {}, { thingArn: created.thingArn, created: true }),
    ]);
    const b = await registerWithRollback(registry, ledger, {
      csrPem: newCsr(),
      thingName,
      policyName: POLICY,
      policyDocument,
      deviceId: "dev-taken",
    });
    expect(b.thingCreated).toBe(false);
    await recordCommitted(ledger, { run: b.run, deviceId: "dev-taken", thingName });
    await ledger.close();

    const report = await cleanupFromLedger(registry, ledgerFile);
    expect(report.failed).toEqual([]);
    expect(report.cleaned.map((c) => c.run)).toEqual(["run-a"]);
    expect(serviceState().map((c) => c.id)).not.toContain(a.certificateId);
    expect(thingExists(thingName)).toBe(true);
    const service = iot.store as unknown as IotStore;
    expect(service.describeCertificate(b.certificateId).status).toBe("ACTIVE");
    expect(service.principalThings(b.certificateArn)).toEqual([thingName]);
    expect((await ledgerState(ledgerFile)).openRuns).toEqual([]);
    ledger = await Ledger.open(ledgerFile);
  });

  it("cleanup removes a certificate someone revoked meanwhile (no UpdateCertificate on a REVOKED one)", async () => {
    const issued = await registry.createCertificateFromCsr(newCsr(), true);
    await ledger.append({
      run: "revoked-run",
      event: "done",
      phase: "register",
      op: "CreateCertificateFromCsr",
      data: { certificateId: issued.certificateId, certificateArn: issued.certificateArn },
    });
    await ledger.close();
    // An operator revoked the half-provisioned certificate in the console.
    await (iot.store as unknown as IotStore).updateCertificate(issued.certificateId, "REVOKED");
    const report = await cleanupFromLedger(registry, ledgerFile);
    expect(report.failed).toEqual([]);
    expect(serviceState().map((c) => c.id)).not.toContain(issued.certificateId);
    ledger = await Ledger.open(ledgerFile);
  });

  it("a ledger that cannot be written stops the run before any cloud call, as a CONFIG error", async () => {
    const full = await Ledger.open("/dev/full"); // every write fails with ENOSPC
    const before = counter("CreateCertificateFromCsr", "requests");
    const e = await caught(
      registerWithRollback(registry, full, {
        csrPem: newCsr(),
        thingName: "thing-nodisk",
        policyName: POLICY,
        policyDocument,
      }),
    );
    await full.close().catch(() => undefined);
    expect(e.code).toBe("CONFIG");
    expect(e.message).toMatch(/cannot write the ledger/);
    expect(counter("CreateCertificateFromCsr", "requests")).toBe(before);
  });

  it("rollbackRegistration removes a completed registration; a thing that existed before is kept", async () => {
    await registry.createThing("thing-existing", { kept: "yes" });
    const reg = await registerWithRollback(registry, ledger, {
      csrPem: newCsr(),
      thingName: "thing-existing",
      policyName: POLICY,
      policyDocument,
    });
    expect(reg.thingCreated).toBe(false);
    await rollbackRegistration(registry, ledger, reg);
    expect(serviceState().some((c) => c.id === reg.certificateId)).toBe(false);
    expect(thingExists("thing-existing")).toBe(true);
    expect((await ledgerState(ledgerFile)).runs[0]?.status).toBe("rolled-back");
  });

  it("refuses to reuse a policy name whose document differs, and rolls back", async () => {
    await registry.ensurePolicy(
      "other-policy",
      leastPrivilegePolicy({ region: iot.region, accountId: iot.accountId, topic: "topic_001" }),
    );
    const e = await caught(
      registerWithRollback(registry, ledger, {
        csrPem: newCsr(),
        thingName: "thing-pol",
        policyName: "other-policy",
        policyDocument,
      }),
    );
    expect(e.code).toBe("CONFIG");
    expect(e.message).toMatch(/policy other-policy already exists with a different document/);
    expect(thingExists("thing-pol")).toBe(false);
  });

  it("the ledger is one JSON object per line, each with version, time and run", () => {
    const lines = readFileSync(ledgerFile, "utf8").split("\n").filter(Boolean);
    for (const l of lines)
      expect(Object.keys(JSON.parse(l))).toEqual(expect.arrayContaining(["v", "ts", "run", "event"]));
  });

  it("the CSR's key in the ledger is the SHA-256 of its SPKI, so cleanup can search by key", async () => {
    const csrPem = newCsr();
    await registerWithRollback(registry, ledger, {
      csrPem,
      thingName: "thing-key",
      policyName: POLICY,
      policyDocument,
    });
    const intent = (await readLedger(ledgerFile)).find((r) => r.op === "CreateCertificateFromCsr");
    const der = execFileSync("openssl", ["req", "-pubkey", "-noout"], { input: csrPem });
    const spkiDer = execFileSync("openssl", ["pkey", "-pubin", "-outform", "DER"], { input: der });
    const digest = execFileSync("openssl", ["dgst", "-sha256", "-r"], { input: spkiDer })
      .toString()
      .slice(0, 64);
    expect(intent?.data?.spkiSha256).toBe(digest);
    expect(Buffer.from(csrPublicKeySpki(csrPem)).equals(spkiDer)).toBe(true);
  });
});
