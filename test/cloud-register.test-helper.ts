/**
 * The local AWS IoT, an AWS registry on it and a fresh ledger per test, for
 * the registration and cleanup tests; after each test no certificate may be
 * ACTIVE without its thing.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, expect } from "vitest";
import { Ledger, registerWithRollback } from "../src/ledger/index.js";
import { type LocalIot, startLocalIot } from "../src/local-iot/service.js";
import type { IotStore } from "../src/local-iot/store.js";
import { type AwsCloudRegistry, createAwsRegistry, leastPrivilegePolicy } from "../src/registry/index.js";

/** One service and registry per file, a fresh ledger per test. */
export interface RegisterCase {
  dir: string;
  iot: LocalIot;
  registry: AwsCloudRegistry;
  ledger: Ledger;
  ledgerFile: string;
}
const shared = {} as RegisterCase;
let csrCount = 0;

export const POLICY = "provision-test-policy";
export const policyDocument = (a: { region: string; accountId: string }) => leastPrivilegePolicy(a);

/** A fresh P-256 CSR from the openssl CLI (independent of the code under test). */
export function newCsr(): string {
  const n = csrCount++;
  const key = join(shared.dir, `k${n}.pem`);
  execFileSync("openssl", ["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", key]);
  return execFileSync("openssl", ["req", "-new", "-key", key, "-subj", `/CN=dev-${n}`]).toString();
}

/** Registers a fresh CSR as `thingName` under the test policy, through this test's registry and ledger. */
export function registerFresh(thingName: string) {
  return registerWithRollback(shared.registry, shared.ledger, {
    csrPem: newCsr(),
    thingName,
    policyName: POLICY,
    policyDocument,
  });
}

/** The service's own view, not the client's. */
export function serviceState() {
  const reg = shared.iot.store as unknown as IotStore;
  const certs = reg.listCertificates(undefined, 250, false).items;
  return certs.map((c) => ({
    id: c.certificateId,
    status: c.status,
    things: reg.principalThings(c.certificateArn),
  }));
}

export function thingExists(name: string): boolean {
  try {
    (shared.iot.store as unknown as IotStore).describeThing(name);
    return true;
  } catch {
    return false;
  }
}

export function assertNoActiveUnattached(): void {
  const leaked = serviceState().filter((c) => c.status === "ACTIVE" && c.things.length === 0);
  expect(leaked).toEqual([]);
}

/** Request counters of the service are cumulative: tests look at differences. */
export function counter(op: string, field: "requests" | "throttled"): number {
  return shared.iot.stats()[op]?.[field] ?? 0;
}

/** Opens the test's ledger again (after a test closed it), as the one the test's end closes. */
export async function reopenLedger(): Promise<Ledger> {
  shared.ledger = await Ledger.open(shared.ledgerFile);
  return shared.ledger;
}

/** Starts the service for the file and a fresh ledger per test; `bind` sees each test's case. */
export function useRegisterCase(bind: (s: RegisterCase) => void): void {
  beforeAll(async () => {
    shared.dir = mkdtempSync(join(tmpdir(), "cloud-register-"));
    shared.iot = await startLocalIot({
      stateDir: join(shared.dir, "iot"),
      withoutBroker: true,
      detachDelayMs: 300,
    });
    shared.registry = await createAwsRegistry({
      region: shared.iot.region,
      endpoint: shared.iot.controlPlaneUrl,
      credentials: shared.iot.credentials,
      maxAttempts: 3,
      detachWait: { timeoutMs: 5000, intervalMs: 50 },
    });
  });

  afterAll(async () => {
    await shared.registry?.close();
    await shared.iot?.stop();
    rmSync(shared.dir, { recursive: true, force: true });
  });

  let caseNo = 0;
  beforeEach(async () => {
    shared.iot.setFaults({});
    shared.ledgerFile = join(shared.dir, `ledger-${caseNo++}.jsonl`);
    shared.ledger = await Ledger.open(shared.ledgerFile);
  });

  afterEach(async () => {
    shared.iot.setFaults({});
    await shared.ledger.close();
    assertNoActiveUnattached();
  });
  beforeEach(() => bind(shared));
}
