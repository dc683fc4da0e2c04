/**
 * Cleanup of what failed, interrupted and killed registrations left, the
 * ledger it reads, and rollback of completed registrations, against the
 * real local AWS IoT.
 */
import { execFileSync, spawn } from "node:child_process";
import { once } from "node:events";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";
import { csrPublicKeySpki } from "../src/csr/index.js";
import { rejection } from "../src/errors.test-helper.js";
import {
  cleanupFromLedger,
  Ledger,
  ledgerState,
  readLedger,
  recordCommitted,
  registerWithRollback,
  rollbackRegistration,
} from "../src/ledger/index.js";
import type { LocalIot } from "../src/local-iot/service.js";
import type { IotStore } from "../src/local-iot/store.js";
import { type AwsCloudRegistry, leastPrivilegePolicy } from "../src/registry/index.js";
import {
  counter,
  newCsr,
  POLICY,
  policyDocument,
  registerFresh,
  reopenLedger,
  serviceState,
  thingExists,
  useRegisterCase,
} from "./cloud-register.test-helper.js";

let dir: string;
let iot: LocalIot;
let registry: AwsCloudRegistry;
let ledger: Ledger;
let ledgerFile: string;
useRegisterCase((s) => {
  ({ dir, iot, registry, ledger, ledgerFile } = s);
});

describe("cleanup after failed and killed registrations, on the local AWS IoT", () => {
  it("a failed rollback leaves an open entry (ROLLBACK_INCOMPLETE) that cleanup finishes, idempotently", async () => {
    iot.setFaults({
      operations: { AttachThingPrincipal: { serverErrorRate: 1 }, DeleteCertificate: { serverErrorRate: 1 } },
    });
    const before = new Set(serviceState().map((c) => c.id));
    const e = await rejection(
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
    ledger = await reopenLedger();
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
    ledger = await reopenLedger();
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
    ledger = await reopenLedger();
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
    ledger = await reopenLedger();
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
    ledger = await reopenLedger();
  });

  it("a ledger that cannot be written stops the run before any cloud call, as a CONFIG error", async () => {
    const full = await Ledger.open("/dev/full"); // every write fails with ENOSPC
    const before = counter("CreateCertificateFromCsr", "requests");
    const e = await rejection(
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
    const reg = await registerFresh("thing-existing");
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
    const e = await rejection(
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
