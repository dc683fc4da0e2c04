import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { isProvisionError } from "../errors.js";
import type { ApiError } from "./api-error.js";
import { IotStore, MAX_POLICIES_PER_TARGET, STATE_FILE } from "./store.js";

const POLICY =
  '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:Connect","Resource":"*"}]}';
let dir: string;
let open: IotStore[] = [];

function registry(detachDelayMs = 100): IotStore {
  const r = new IotStore({ stateDir: dir, region: "eu-west-1", accountId: "111122223333", detachDelayMs });
  open.push(r);
  return r;
}

function fakeCert(n: number) {
  const certificateId = createHash("sha256").update(`cert-${n}`).digest("hex");
  return {
    certificateId,
    certificatePem: `-----BEGIN CERTIFICATE-----\n${n}\n-----END CERTIFICATE-----\n`,
    notBefore: new Date("2026-01-01T00:00:00Z"),
    notAfter: new Date("2049-12-31T23:59:59Z"),
  };
}

function thrown(f: () => unknown): ApiError {
  try {
    f();
  } catch (e) {
    return e as ApiError;
  }
  throw new Error("expected an error");
}

async function rejected(p: Promise<unknown>): Promise<ApiError> {
  try {
    await p;
  } catch (e) {
    return e as ApiError;
  }
  throw new Error("expected an error");
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "local-iot-registry-"));
  open = [];
});

afterEach(async () => {
  await Promise.all(open.map((r) => r.close()));
  rmSync(dir, { recursive: true, force: true });
});

describe("IotStore", () => {
  it("builds ARNs from its region and account", async () => {
    const r = registry();
    const c = await r.addCertificate(fakeCert(1), true);
    expect(c.certificateArn).toBe(`arn:aws:iot:eu-west-1:111122223333:cert/${c.certificateId}`);
    expect((await r.createThing("t1", {}, undefined)).thingArn).toBe(
      "arn:aws:iot:eu-west-1:111122223333:thing/t1",
    );
    expect((await r.createPolicy("p1", POLICY)).policyArn).toBe(
      "arn:aws:iot:eu-west-1:111122223333:policy/p1",
    );
  });

  it("keeps a pending detach across a restart: still attached before the delay, gone after", async () => {
    const r1 = registry(400);
    const c = await r1.addCertificate(fakeCert(2), false);
    await r1.createThing("t2", {}, undefined);
    await r1.attachThingPrincipal("t2", c.certificateArn, "NON_EXCLUSIVE_THING");
    await r1.detachThingPrincipal("t2", c.certificateArn);
    await r1.close();
    const r2 = registry(400);
    expect(r2.principalThings(c.certificateArn)).toEqual(["t2"]);
    let notified = 0;
    r2.onChange(() => notified++);
    await new Promise((res) => setTimeout(res, 500));
    expect(r2.principalThings(c.certificateArn)).toEqual([]);
    expect(notified).toBe(1);
    await r2.deleteCertificate(c.certificateId, false);
    expect(r2.getCertificate(c.certificateId)).toBeUndefined();
  });

  it("cancels a pending detach when the principal is attached again", async () => {
    const r = registry(50);
    const c = await r.addCertificate(fakeCert(3), false);
    await r.createThing("t3", {}, undefined);
    await r.attachThingPrincipal("t3", c.certificateArn, "NON_EXCLUSIVE_THING");
    await r.detachThingPrincipal("t3", c.certificateArn);
    await r.attachThingPrincipal("t3", c.certificateArn, "NON_EXCLUSIVE_THING");
    await new Promise((res) => setTimeout(res, 100));
    expect(r.principalThings(c.certificateArn)).toEqual(["t3"]);
  });

  it("a repeated request that changes nothing is answered only once the first one's change is on disk", async () => {
    const r = registry();
    const c = await r.addCertificate(fakeCert(7), true);
    const onDisk = () =>
      JSON.parse(readFileSync(join(dir, STATE_FILE), "utf8")).certificates[c.certificateId].status;
    // E.g. an SDK retry of UpdateCertificate while the first attempt is still being written.
    const first = r.updateCertificate(c.certificateId, "INACTIVE");
    await r.updateCertificate(c.certificateId, "INACTIVE");
    expect(onDisk()).toBe("INACTIVE");
    await first;
    await r.createThing("t-dup", {}, undefined);
    const firstThing = r.deleteThing("t-dup", undefined);
    await r.deleteThing("t-dup", undefined);
    expect(JSON.parse(readFileSync(join(dir, STATE_FILE), "utf8")).things["t-dup"]).toBeUndefined();
    await firstThing;
  });

  it("refuses an 11th policy on one certificate with LimitExceededException", async () => {
    const r = registry();
    const c = await r.addCertificate(fakeCert(4), true);
    for (let i = 0; i < MAX_POLICIES_PER_TARGET; i++) {
      await r.createPolicy(`p${i}`, POLICY);
      await r.attachPolicy(`p${i}`, c.certificateArn);
    }
    await r.createPolicy("one-too-many", POLICY);
    const e = await rejected(r.attachPolicy("one-too-many", c.certificateArn));
    expect([e.errorType, e.statusCode]).toEqual(["LimitExceededException", 410]);
  });

  it("validates names, ids, versions and policy documents", async () => {
    const r = registry();
    expect((await rejected(r.createThing("has space", {}, undefined))).errorType).toBe(
      "InvalidRequestException",
    );
    expect((await rejected(r.createThing("typed", {}, "SomeType"))).errorType).toBe(
      "ResourceNotFoundException",
    );
    expect(thrown(() => r.describeCertificate("ABC")).errorType).toBe("InvalidRequestException");
    expect((await rejected(r.createPolicy("p", '{"Statement":[{"Effect":"Maybe"}]}'))).errorType).toBe(
      "MalformedPolicyException",
    );
    await r.createThing("v", {}, undefined);
    const e = await rejected(r.deleteThing("v", 7));
    expect([e.errorType, e.statusCode]).toEqual(["VersionConflictException", 409]);
    await r.deleteThing("v", 1);
  });

  it("writes state atomically as JSON and refuses a corrupt or foreign state file with CONFIG", async () => {
    const r = registry();
    await r.createThing("persisted", { k: "v" }, undefined);
    const onDisk = JSON.parse(readFileSync(join(dir, STATE_FILE), "utf8"));
    expect(onDisk.things.persisted.attributes).toEqual({ k: "v" });
    writeFileSync(join(dir, STATE_FILE), "{truncated");
    let err: unknown;
    try {
      registry();
    } catch (e) {
      err = e;
    }
    expect(isProvisionError(err, "CONFIG")).toBe(true);
    writeFileSync(join(dir, STATE_FILE), '{"formatVersion":99}');
    expect(() => registry()).toThrow(/format 99/);
  });
});
