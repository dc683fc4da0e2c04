/**
 * The local AWS IoT driven by the REAL @aws-sdk/client-iot (and raw signed
 * HTTP for what the SDK will not send), over 127.0.0.1: the control plane
 * operations.
 */
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import * as sdk from "@aws-sdk/client-iot";
import { describe, expect, it } from "vitest";
import { type LocalIot, startLocalIot } from "./service.js";
import {
  execFileAsync,
  opensslCsr,
  P256,
  POLICY,
  REPO_ROOT,
  RSA2048,
  rejection,
  replaceService,
  useService,
} from "./service.test-helper.js";

let dir: string;
let stateDir: string;
let iot: LocalIot;
let client: sdk.IoTClient;
useService((s) => {
  ({ dir, stateDir, iot, client } = s);
});

describe("local AWS IoT control plane with the real SDK", () => {
  let p256Arn = "";
  let p256Id = "";
  let rsaId = "";

  it("registers P-256 and RSA-2048 openssl CSRs; certificates verify against caFile and carry the CSR's key", async () => {
    for (const [name, newkey] of [
      ["p256", P256],
      ["rsa", RSA2048],
    ] as const) {
      const csr = opensslCsr(name, [...newkey]);
      const r = await client.send(
        new sdk.CreateCertificateFromCsrCommand({ certificateSigningRequest: csr, setAsActive: true }),
      );
      expect(r.certificateId).toMatch(/^[0-9a-f]{64}$/);
      expect(r.certificateArn).toBe(`arn:aws:iot:us-east-1:123456789012:cert/${r.certificateId}`);
      const certFile = join(dir, `${name}.pem`);
      writeFileSync(certFile, r.certificatePem ?? "");
      expect(
        execFileSync("openssl", ["verify", "-CAfile", iot.caFile, certFile], { encoding: "utf8" }).trim(),
      ).toBe(`${certFile}: OK`);
      const certKey = execFileSync("openssl", ["x509", "-noout", "-pubkey", "-in", certFile], {
        encoding: "utf8",
      });
      const csrKey = execFileSync("openssl", ["req", "-noout", "-pubkey"], { input: csr, encoding: "utf8" });
      expect(certKey).toBe(csrKey);
      if (name === "p256") {
        p256Arn = r.certificateArn ?? "";
        p256Id = r.certificateId ?? "";
      } else rsaId = r.certificateId ?? "";
    }
    const d = await client.send(new sdk.DescribeCertificateCommand({ certificateId: p256Id }));
    expect(d.certificateDescription?.status).toBe("ACTIVE");
    expect(d.certificateDescription?.validity?.notAfter?.toISOString()).toBe("2049-12-31T23:59:59.000Z");
    expect(readFileSync(iot.caFile, "utf8")).toBe(iot.caPem);
  });

  it("issues a new certificate each time the same CSR is submitted, INACTIVE without setAsActive", async () => {
    const csr = opensslCsr("twice", P256);
    const a = await client.send(new sdk.CreateCertificateFromCsrCommand({ certificateSigningRequest: csr }));
    const b = await client.send(new sdk.CreateCertificateFromCsrCommand({ certificateSigningRequest: csr }));
    expect(a.certificateId).not.toBe(b.certificateId);
    const d = await client.send(new sdk.DescribeCertificateCommand({ certificateId: a.certificateId }));
    expect(d.certificateDescription?.status).toBe("INACTIVE");
    const listed = await client.send(new sdk.ListCertificatesCommand({ pageSize: 250 }));
    const ids = listed.certificates?.map((c) => c.certificateId) ?? [];
    expect(ids).toEqual(expect.arrayContaining([p256Id, rsaId, a.certificateId, b.certificateId]));
    // Pagination walks the same set one by one.
    const paged: string[] = [];
    let marker: string | undefined;
    do {
      const page = await client.send(new sdk.ListCertificatesCommand({ pageSize: 1, marker }));
      paged.push(...(page.certificates?.map((c) => c.certificateId ?? "") ?? []));
      marker = page.nextMarker;
    } while (marker);
    expect(paged.sort()).toEqual([...ids].sort());
  });

  it("refuses bad CSRs with InvalidRequestException (RSA-1024, secp256k1, garbage)", async () => {
    for (const csr of [
      opensslCsr("r1024", ["-newkey", "rsa:1024"]),
      opensslCsr("k1", ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:secp256k1"]),
      "hello",
    ]) {
      const e = await rejection(
        client.send(new sdk.CreateCertificateFromCsrCommand({ certificateSigningRequest: csr })),
      );
      expect(e.name).toBe("InvalidRequestException");
      expect(e.$metadata?.httpStatusCode).toBe(400);
    }
  });

  it("creates things idempotently, refuses a conflicting config, describes, filters and pages", async () => {
    const first = await client.send(
      new sdk.CreateThingCommand({
        thingName: "dev-1",
        attributePayload: { attributes: { model: "esp32", batch: "7" } },
      }),
    );
    const again = await client.send(
      new sdk.CreateThingCommand({
        thingName: "dev-1",
        attributePayload: { attributes: { batch: "7", model: "esp32" } },
      }),
    );
    expect(again.thingId).toBe(first.thingId);
    const conflict = await rejection(
      client.send(
        new sdk.CreateThingCommand({ thingName: "dev-1", attributePayload: { attributes: { model: "s3" } } }),
      ),
    );
    expect(conflict.name).toBe("ResourceAlreadyExistsException");
    expect(conflict.$metadata?.httpStatusCode).toBe(409);
    await client.send(
      new sdk.CreateThingCommand({
        thingName: "dev-2",
        attributePayload: { attributes: { model: "esp32s3" } },
      }),
    );
    await client.send(new sdk.CreateThingCommand({ thingName: "dev-3" }));
    const d = await client.send(new sdk.DescribeThingCommand({ thingName: "dev-1" }));
    expect(d).toMatchObject({ thingName: "dev-1", attributes: { model: "esp32", batch: "7" }, version: 1 });
    expect(d.thingArn).toBe("arn:aws:iot:us-east-1:123456789012:thing/dev-1");
    const filtered = await client.send(
      new sdk.ListThingsCommand({
        attributeName: "model",
        attributeValue: "esp32",
        usePrefixAttributeValue: true,
      }),
    );
    expect(filtered.things?.map((t) => t.thingName)).toEqual(["dev-1", "dev-2"]);
    const page1 = await client.send(new sdk.ListThingsCommand({ maxResults: 2 }));
    const page2 = await client.send(new sdk.ListThingsCommand({ maxResults: 2, nextToken: page1.nextToken }));
    expect([...(page1.things ?? []), ...(page2.things ?? [])].map((t) => t.thingName)).toEqual([
      "dev-1",
      "dev-2",
      "dev-3",
    ]);
    expect(page2.nextToken).toBeUndefined();
    const missing = await rejection(client.send(new sdk.DescribeThingCommand({ thingName: "nope" })));
    expect(missing.name).toBe("ResourceNotFoundException");
    expect(missing.$metadata?.httpStatusCode).toBe(404);
    await client.send(new sdk.DeleteThingCommand({ thingName: "never-existed" })); // AWS: success
    await client.send(new sdk.DeleteThingCommand({ thingName: "dev-3" }));
    expect((await rejection(client.send(new sdk.DescribeThingCommand({ thingName: "dev-3" })))).name).toBe(
      "ResourceNotFoundException",
    );
  });

  it("manages policies: create, get, list, attach, conflicts, detach, delete", async () => {
    const created = await client.send(
      new sdk.CreatePolicyCommand({ policyName: "dev-policy", policyDocument: POLICY }),
    );
    expect(created).toMatchObject({ policyName: "dev-policy", policyVersionId: "1", policyDocument: POLICY });
    expect(
      (
        await rejection(
          client.send(new sdk.CreatePolicyCommand({ policyName: "dev-policy", policyDocument: POLICY })),
        )
      ).name,
    ).toBe("ResourceAlreadyExistsException");
    expect(
      (await rejection(client.send(new sdk.CreatePolicyCommand({ policyName: "bad", policyDocument: "{" }))))
        .name,
    ).toBe("MalformedPolicyException");
    await client.send(new sdk.CreatePolicyCommand({ policyName: "spare", policyDocument: POLICY }));
    expect((await client.send(new sdk.GetPolicyCommand({ policyName: "dev-policy" }))).policyDocument).toBe(
      POLICY,
    );
    const listed = await client.send(new sdk.ListPoliciesCommand({}));
    expect(listed.policies?.map((p) => p.policyName).sort()).toEqual(["dev-policy", "spare"]);
    await client.send(new sdk.AttachPolicyCommand({ policyName: "dev-policy", target: p256Arn }));
    await client.send(new sdk.AttachPolicyCommand({ policyName: "spare", target: p256Arn }));
    const attached = await client.send(new sdk.ListAttachedPoliciesCommand({ target: p256Arn }));
    expect(attached.policies?.map((p) => p.policyName)).toEqual(["dev-policy", "spare"]);
    expect(
      iot.store
        .principalPolicies(p256Arn)
        .map((p) => p.policyName)
        .sort(),
    ).toEqual(["dev-policy", "spare"]);
    expect((await rejection(client.send(new sdk.DeletePolicyCommand({ policyName: "spare" })))).name).toBe(
      "DeleteConflictException",
    );
    await client.send(new sdk.DetachPolicyCommand({ policyName: "spare", target: p256Arn }));
    await client.send(new sdk.DeletePolicyCommand({ policyName: "spare" }));
    expect((await rejection(client.send(new sdk.GetPolicyCommand({ policyName: "spare" })))).name).toBe(
      "ResourceNotFoundException",
    );
    const unknownCert = `arn:aws:iot:us-east-1:123456789012:cert/${"0".repeat(64)}`;
    expect(
      (
        await rejection(
          client.send(new sdk.AttachPolicyCommand({ policyName: "dev-policy", target: unknownCert })),
        )
      ).name,
    ).toBe("ResourceNotFoundException");
  });

  it("attaches principals (EXCLUSIVE_THING), enforces the delete rules, and detaches asynchronously", async () => {
    await client.send(
      new sdk.AttachThingPrincipalCommand({
        thingName: "dev-1",
        principal: p256Arn,
        thingPrincipalType: "EXCLUSIVE_THING",
      }),
    );
    const elsewhere = await rejection(
      client.send(new sdk.AttachThingPrincipalCommand({ thingName: "dev-2", principal: p256Arn })),
    );
    expect(elsewhere.name).toBe("InvalidRequestException");
    expect(
      (await client.send(new sdk.ListThingPrincipalsCommand({ thingName: "dev-1" }))).principals,
    ).toEqual([p256Arn]);
    expect((await client.send(new sdk.ListPrincipalThingsCommand({ principal: p256Arn }))).things).toEqual([
      "dev-1",
    ]);
    expect(iot.store.principalThings(p256Arn)).toEqual(["dev-1"]);
    // V2 says how each principal is attached, and filters by it, as AWS does.
    const v2 = await client.send(new sdk.ListThingPrincipalsV2Command({ thingName: "dev-1" }));
    expect(v2.thingPrincipalObjects).toEqual([{ principal: p256Arn, thingPrincipalType: "EXCLUSIVE_THING" }]);
    const nonExclusive = await client.send(
      new sdk.ListThingPrincipalsV2Command({ thingName: "dev-1", thingPrincipalType: "NON_EXCLUSIVE_THING" }),
    );
    expect(nonExclusive.thingPrincipalObjects).toEqual([]);
    expect(
      (await rejection(client.send(new sdk.ListThingPrincipalsV2Command({ thingName: "no-such-thing" }))))
        .name,
    ).toBe("ResourceNotFoundException");

    const active = await rejection(client.send(new sdk.DeleteCertificateCommand({ certificateId: p256Id })));
    expect(active.name).toBe("CertificateStateException");
    expect(active.$metadata?.httpStatusCode).toBe(406);

    let changes = 0;
    const unsubscribe = iot.store.onChange(() => changes++);
    await client.send(new sdk.UpdateCertificateCommand({ certificateId: p256Id, newStatus: "INACTIVE" }));
    expect(iot.store.getCertificate(p256Id)?.status).toBe("INACTIVE");
    expect(changes).toBeGreaterThan(0);

    const attachedToThing = await rejection(
      client.send(new sdk.DeleteCertificateCommand({ certificateId: p256Id, forceDelete: true })),
    );
    expect(attachedToThing.name).toBe("DeleteConflictException");
    expect(attachedToThing.$metadata?.httpStatusCode).toBe(409);
    const thingBusy = await rejection(client.send(new sdk.DeleteThingCommand({ thingName: "dev-1" })));
    expect(thingBusy.name).toBe("InvalidRequestException");

    const detachSent = Date.now();
    await client.send(new sdk.DetachThingPrincipalCommand({ thingName: "dev-1", principal: p256Arn }));
    // Asynchronous as on AWS: right after the call the principal is still attached.
    expect((await client.send(new sdk.ListPrincipalThingsCommand({ principal: p256Arn }))).things).toEqual([
      "dev-1",
    ]);
    expect(
      (await rejection(client.send(new sdk.DeleteCertificateCommand({ certificateId: p256Id })))).name,
    ).toBe("DeleteConflictException");
    const t0 = Date.now();
    let things: string[] | undefined = ["dev-1"];
    while (things?.length && Date.now() - t0 < 5000) {
      await new Promise((r) => setTimeout(r, 50));
      things = (await client.send(new sdk.ListPrincipalThingsCommand({ principal: p256Arn }))).things;
    }
    expect(things).toEqual([]);
    // Measured from the detach itself: the calls in between take longer on a loaded machine.
    expect(Date.now() - detachSent).toBeGreaterThanOrEqual(300);
    // The broker re-checks live connections on change: the delayed detach must announce itself.
    await new Promise((r) => setTimeout(r, 50));
    expect(changes).toBeGreaterThanOrEqual(2); // UpdateCertificate + the detach taking effect
    unsubscribe();

    // Policy still attached: refused without forceDelete, which skips only that check.
    const policyAttached = await rejection(
      client.send(new sdk.DeleteCertificateCommand({ certificateId: p256Id })),
    );
    expect(policyAttached.name).toBe("DeleteConflictException");
    expect(policyAttached.message).toMatch(/dev-policy/);
    await client.send(new sdk.DeleteCertificateCommand({ certificateId: p256Id, forceDelete: true }));
    expect(
      (await rejection(client.send(new sdk.DescribeCertificateCommand({ certificateId: p256Id })))).name,
    ).toBe("ResourceNotFoundException");
    expect(
      (
        await client.send(
          new sdk.ListAttachedPoliciesCommand({ target: `arn:aws:iot:us-east-1:123456789012:cert/${rsaId}` }),
        )
      ).policies,
    ).toEqual([]);
    await client.send(new sdk.DeletePolicyCommand({ policyName: "dev-policy" })); // the forced delete detached it

    await client.send(new sdk.UpdateCertificateCommand({ certificateId: rsaId, newStatus: "REVOKED" }));
    expect(
      (
        await rejection(
          client.send(new sdk.UpdateCertificateCommand({ certificateId: rsaId, newStatus: "ACTIVE" })),
        )
      ).name,
    ).toBe("CertificateStateException");
  });

  it("answers DescribeEndpoint iot:Data-ATS with the local data endpoint", async () => {
    const r = await client.send(new sdk.DescribeEndpointCommand({ endpointType: "iot:Data-ATS" }));
    expect(r.endpointAddress).toBe(iot.endpoint);
    expect(r.endpointAddress).toBe("127.0.0.1");
    const legacy = await client.send(new sdk.DescribeEndpointCommand({}));
    expect(legacy.endpointAddress).not.toBe(iot.endpoint);
  });

  it("is reachable through AWS_ENDPOINT_URL_IOT from a separate process", async () => {
    const script = `
      import { IoTClient, ListThingsCommand } from "@aws-sdk/client-iot";
      const c = new IoTClient({});
      const r = await c.send(new ListThingsCommand({}));
      process.stdout.write(JSON.stringify(r.things.map((t) => t.thingName)));
    `;
    const { stdout } = await execFileAsync(
      process.execPath,
      ["--no-warnings", "--input-type=module", "-e", script],
      {
        cwd: REPO_ROOT,
        env: {
          PATH: process.env.PATH,
          HOME: dir,
          AWS_ENDPOINT_URL_IOT: iot.controlPlaneUrl,
          AWS_ACCESS_KEY_ID: iot.credentials.accessKeyId,
          AWS_SECRET_ACCESS_KEY: iot.credentials.secretAccessKey,
          AWS_REGION: iot.region,
        },
      },
    );
    expect(JSON.parse(stdout)).toEqual(["dev-1", "dev-2"]);
  });

  it("keeps everything across a restart of the service", async () => {
    // What the service holds, as the SDK lists it.
    const snapshot = async () => ({
      certs: (await client.send(new sdk.ListCertificatesCommand({ pageSize: 250 }))).certificates?.map(
        (c) => [c.certificateId, c.status],
      ),
      things: (await client.send(new sdk.ListThingsCommand({}))).things?.map((t) => [
        t.thingName,
        t.attributes,
      ]),
      policies: (await client.send(new sdk.ListPoliciesCommand({}))).policies,
    });
    const before = await snapshot();
    await client.send(new sdk.CreatePolicyCommand({ policyName: "kept", policyDocument: POLICY }));
    const credentials = { ...iot.credentials };
    const caPem = iot.caPem;
    client.destroy();
    await iot.stop();
    iot = await startLocalIot({ stateDir, withoutBroker: true, detachDelayMs: 300 });
    client = replaceService(iot);
    expect(iot.credentials).toEqual(credentials);
    expect(iot.caPem).toBe(caPem);
    const after = await snapshot();
    expect(after.certs).toEqual(before.certs);
    expect(after.things).toEqual(before.things);
    expect(after.policies?.map((p) => p.policyName).sort()).toEqual(
      [...(before.policies ?? []).map((p) => p.policyName), "kept"].sort(),
    );
  });
});
