/**
 * The local AWS IoT driven by the REAL @aws-sdk/client-iot (and raw signed
 * HTTP for what the SDK will not send), over 127.0.0.1.
 */
import { execFile, execFileSync, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { Sha256 } from "@aws-crypto/sha256-js";
import {
  AttachPolicyCommand,
  AttachThingPrincipalCommand,
  CreateCertificateFromCsrCommand,
  CreatePolicyCommand,
  CreateThingCommand,
  DeleteCertificateCommand,
  DeletePolicyCommand,
  DeleteThingCommand,
  DescribeCertificateCommand,
  DescribeEndpointCommand,
  DescribeThingCommand,
  DetachPolicyCommand,
  DetachThingPrincipalCommand,
  GetPolicyCommand,
  IoTClient,
  ListAttachedPoliciesCommand,
  ListCertificatesCommand,
  ListPoliciesCommand,
  ListPrincipalThingsCommand,
  ListThingPrincipalsCommand,
  ListThingsCommand,
  UpdateCertificateCommand,
} from "@aws-sdk/client-iot";
import { SignatureV4 } from "@smithy/signature-v4";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LocalIot, startLocalIot } from "./service.js";

const execFileAsync = promisify(execFile);
const REPO_ROOT = resolve(import.meta.dirname, "..", "..");
const POLICY = JSON.stringify({
  Version: "2012-10-17",
  Statement: [{ Effect: "Allow", Action: ["iot:Connect"], Resource: ["*"] }],
});

let dir: string;
let stateDir: string;
let iot: LocalIot;
let client: IoTClient;

function newClient(extra: Partial<ConstructorParameters<typeof IoTClient>[0]> = {}): IoTClient {
  // A copy: the SDK writes bookkeeping fields into the credentials object it is given.
  return new IoTClient({
    endpoint: iot.controlPlaneUrl,
    region: iot.region,
    credentials: { ...iot.credentials },
    ...extra,
  });
}

function opensslCsr(name: string, newkey: string[]): string {
  const csrFile = join(dir, `${name}.csr`);
  execFileSync(
    "openssl",
    [
      "req",
      "-new",
      ...newkey,
      "-nodes",
      "-keyout",
      join(dir, `${name}.key`),
      "-subj",
      `/CN=${name}`,
      "-out",
      csrFile,
    ],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  return readFileSync(csrFile, "utf8");
}

const P256 = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"];
const RSA2048 = ["-newkey", "rsa:2048"];

/** Resolves to the error the promise rejects with (fails if it resolves). */
async function rejection(
  p: Promise<unknown>,
): Promise<Error & { $metadata?: { httpStatusCode?: number; attempts?: number } }> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error("expected the call to fail, it succeeded");
}

interface RawResponse {
  status: number;
  errorType: string | undefined;
  body: string;
}

/** Raw HTTP to the control plane, signed with the SDK's signer unless told otherwise. */
async function raw(
  method: string,
  path: string,
  opts: {
    body?: string | Buffer;
    headers?: Record<string, string>;
    sign?:
      | "ok"
      | "none"
      | { secret?: string; region?: string; service?: string; applyChecksum?: boolean; signingDate?: Date };
    /** Sent instead of `body` after signing `body` (a body changed in transit). */
    sendBody?: string;
  } = {},
): Promise<RawResponse> {
  const url = new URL(iot.controlPlaneUrl);
  const body = opts.body ?? "";
  const [pathOnly = "", queryString = ""] = path.split("?");
  let headers: Record<string, string> = {
    host: url.host,
    "content-type": "application/json",
    ...opts.headers,
  };
  const sign = opts.sign ?? "ok";
  if (sign !== "none") {
    const s = typeof sign === "object" ? sign : {};
    const signer = new SignatureV4({
      credentials: { ...iot.credentials, secretAccessKey: s.secret ?? iot.credentials.secretAccessKey },
      region: s.region ?? iot.region,
      service: s.service ?? "iot",
      sha256: Sha256,
      applyChecksum: s.applyChecksum ?? true,
    });
    const query = Object.fromEntries(new URLSearchParams(queryString));
    const signed = await signer.sign(
      {
        method,
        protocol: "http:",
        hostname: url.hostname,
        port: Number(url.port),
        path: pathOnly,
        query,
        headers,
        body,
      },
      s.signingDate ? { signingDate: s.signingDate } : {},
    );
    headers = signed.headers as Record<string, string>;
  }
  return new Promise((resolvePromise, reject) => {
    const req = request({ host: url.hostname, port: url.port, method, path, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () =>
        resolvePromise({
          status: res.statusCode ?? 0,
          errorType: res.headers["x-amzn-errortype"] as string | undefined,
          body: Buffer.concat(chunks).toString("utf8"),
        }),
      );
    });
    req.on("error", reject);
    req.end(opts.sendBody ?? body);
  });
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "local-iot-svc-"));
  stateDir = join(dir, "state");
  iot = await startLocalIot({ stateDir, withoutBroker: true, detachDelayMs: 300 });
  client = newClient();
});

afterAll(async () => {
  client?.destroy();
  await iot?.stop();
  rmSync(dir, { recursive: true, force: true });
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
        new CreateCertificateFromCsrCommand({ certificateSigningRequest: csr, setAsActive: true }),
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
    const d = await client.send(new DescribeCertificateCommand({ certificateId: p256Id }));
    expect(d.certificateDescription?.status).toBe("ACTIVE");
    expect(d.certificateDescription?.validity?.notAfter?.toISOString()).toBe("2049-12-31T23:59:59.000Z");
    expect(readFileSync(iot.caFile, "utf8")).toBe(iot.caPem);
  });

  it("issues a new certificate each time the same CSR is submitted, INACTIVE without setAsActive", async () => {
    const csr = opensslCsr("twice", P256);
    const a = await client.send(new CreateCertificateFromCsrCommand({ certificateSigningRequest: csr }));
    const b = await client.send(new CreateCertificateFromCsrCommand({ certificateSigningRequest: csr }));
    expect(a.certificateId).not.toBe(b.certificateId);
    const d = await client.send(new DescribeCertificateCommand({ certificateId: a.certificateId }));
    expect(d.certificateDescription?.status).toBe("INACTIVE");
    const listed = await client.send(new ListCertificatesCommand({ pageSize: 250 }));
    const ids = listed.certificates?.map((c) => c.certificateId) ?? [];
    expect(ids).toEqual(expect.arrayContaining([p256Id, rsaId, a.certificateId, b.certificateId]));
    // Pagination walks the same set one by one.
    const paged: string[] = [];
    let marker: string | undefined;
    do {
      const page = await client.send(new ListCertificatesCommand({ pageSize: 1, marker }));
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
        client.send(new CreateCertificateFromCsrCommand({ certificateSigningRequest: csr })),
      );
      expect(e.name).toBe("InvalidRequestException");
      expect(e.$metadata?.httpStatusCode).toBe(400);
    }
  });

  it("creates things idempotently, refuses a conflicting config, describes, filters and pages", async () => {
    const first = await client.send(
      new CreateThingCommand({
        thingName: "dev-1",
        attributePayload: { attributes: { model: "esp32", batch: "7" } },
      }),
    );
    const again = await client.send(
      new CreateThingCommand({
        thingName: "dev-1",
        attributePayload: { attributes: { batch: "7", model: "esp32" } },
      }),
    );
    expect(again.thingId).toBe(first.thingId);
    const conflict = await rejection(
      client.send(
        new CreateThingCommand({ thingName: "dev-1", attributePayload: { attributes: { model: "s3" } } }),
      ),
    );
    expect(conflict.name).toBe("ResourceAlreadyExistsException");
    expect(conflict.$metadata?.httpStatusCode).toBe(409);
    await client.send(
      new CreateThingCommand({ thingName: "dev-2", attributePayload: { attributes: { model: "esp32s3" } } }),
    );
    await client.send(new CreateThingCommand({ thingName: "dev-3" }));
    const d = await client.send(new DescribeThingCommand({ thingName: "dev-1" }));
    expect(d).toMatchObject({ thingName: "dev-1", attributes: { model: "esp32", batch: "7" }, version: 1 });
    expect(d.thingArn).toBe("arn:aws:iot:us-east-1:123456789012:thing/dev-1");
    const filtered = await client.send(
      new ListThingsCommand({
        attributeName: "model",
        attributeValue: "esp32",
        usePrefixAttributeValue: true,
      }),
    );
    expect(filtered.things?.map((t) => t.thingName)).toEqual(["dev-1", "dev-2"]);
    const page1 = await client.send(new ListThingsCommand({ maxResults: 2 }));
    const page2 = await client.send(new ListThingsCommand({ maxResults: 2, nextToken: page1.nextToken }));
    expect([...(page1.things ?? []), ...(page2.things ?? [])].map((t) => t.thingName)).toEqual([
      "dev-1",
      "dev-2",
      "dev-3",
    ]);
    expect(page2.nextToken).toBeUndefined();
    const missing = await rejection(client.send(new DescribeThingCommand({ thingName: "nope" })));
    expect(missing.name).toBe("ResourceNotFoundException");
    expect(missing.$metadata?.httpStatusCode).toBe(404);
    await client.send(new DeleteThingCommand({ thingName: "never-existed" })); // AWS: success
    await client.send(new DeleteThingCommand({ thingName: "dev-3" }));
    expect((await rejection(client.send(new DescribeThingCommand({ thingName: "dev-3" })))).name).toBe(
      "ResourceNotFoundException",
    );
  });

  it("manages policies: create, get, list, attach, conflicts, detach, delete", async () => {
    const created = await client.send(
      new CreatePolicyCommand({ policyName: "dev-policy", policyDocument: POLICY }),
    );
    expect(created).toMatchObject({ policyName: "dev-policy", policyVersionId: "1", policyDocument: POLICY });
    expect(
      (
        await rejection(
          client.send(new CreatePolicyCommand({ policyName: "dev-policy", policyDocument: POLICY })),
        )
      ).name,
    ).toBe("ResourceAlreadyExistsException");
    expect(
      (await rejection(client.send(new CreatePolicyCommand({ policyName: "bad", policyDocument: "{" }))))
        .name,
    ).toBe("MalformedPolicyException");
    await client.send(new CreatePolicyCommand({ policyName: "spare", policyDocument: POLICY }));
    expect((await client.send(new GetPolicyCommand({ policyName: "dev-policy" }))).policyDocument).toBe(
      POLICY,
    );
    const listed = await client.send(new ListPoliciesCommand({}));
    expect(listed.policies?.map((p) => p.policyName).sort()).toEqual(["dev-policy", "spare"]);
    await client.send(new AttachPolicyCommand({ policyName: "dev-policy", target: p256Arn }));
    await client.send(new AttachPolicyCommand({ policyName: "spare", target: p256Arn }));
    const attached = await client.send(new ListAttachedPoliciesCommand({ target: p256Arn }));
    expect(attached.policies?.map((p) => p.policyName)).toEqual(["dev-policy", "spare"]);
    expect(
      iot.store
        .principalPolicies(p256Arn)
        .map((p) => p.policyName)
        .sort(),
    ).toEqual(["dev-policy", "spare"]);
    expect((await rejection(client.send(new DeletePolicyCommand({ policyName: "spare" })))).name).toBe(
      "DeleteConflictException",
    );
    await client.send(new DetachPolicyCommand({ policyName: "spare", target: p256Arn }));
    await client.send(new DeletePolicyCommand({ policyName: "spare" }));
    expect((await rejection(client.send(new GetPolicyCommand({ policyName: "spare" })))).name).toBe(
      "ResourceNotFoundException",
    );
    const unknownCert = `arn:aws:iot:us-east-1:123456789012:cert/${"0".repeat(64)}`;
    expect(
      (
        await rejection(
          client.send(new AttachPolicyCommand({ policyName: "dev-policy", target: unknownCert })),
        )
      ).name,
    ).toBe("ResourceNotFoundException");
  });

  it("attaches principals (EXCLUSIVE_THING), enforces the delete rules, and detaches asynchronously", async () => {
    await client.send(
      new AttachThingPrincipalCommand({
        thingName: "dev-1",
        principal: p256Arn,
        thingPrincipalType: "EXCLUSIVE_THING",
      }),
    );
    const elsewhere = await rejection(
      client.send(new AttachThingPrincipalCommand({ thingName: "dev-2", principal: p256Arn })),
    );
    expect(elsewhere.name).toBe("InvalidRequestException");
    expect((await client.send(new ListThingPrincipalsCommand({ thingName: "dev-1" }))).principals).toEqual([
      p256Arn,
    ]);
    expect((await client.send(new ListPrincipalThingsCommand({ principal: p256Arn }))).things).toEqual([
      "dev-1",
    ]);
    expect(iot.store.principalThings(p256Arn)).toEqual(["dev-1"]);

    const active = await rejection(client.send(new DeleteCertificateCommand({ certificateId: p256Id })));
    expect(active.name).toBe("CertificateStateException");
    expect(active.$metadata?.httpStatusCode).toBe(406);

    let changes = 0;
    const unsubscribe = iot.store.onChange(() => changes++);
    await client.send(new UpdateCertificateCommand({ certificateId: p256Id, newStatus: "INACTIVE" }));
    expect(iot.store.getCertificate(p256Id)?.status).toBe("INACTIVE");
    expect(changes).toBeGreaterThan(0);

    const attachedToThing = await rejection(
      client.send(new DeleteCertificateCommand({ certificateId: p256Id, forceDelete: true })),
    );
    expect(attachedToThing.name).toBe("DeleteConflictException");
    expect(attachedToThing.$metadata?.httpStatusCode).toBe(409);
    const thingBusy = await rejection(client.send(new DeleteThingCommand({ thingName: "dev-1" })));
    expect(thingBusy.name).toBe("InvalidRequestException");

    const detachSent = Date.now();
    await client.send(new DetachThingPrincipalCommand({ thingName: "dev-1", principal: p256Arn }));
    // Asynchronous as on AWS: right after the call the principal is still attached.
    expect((await client.send(new ListPrincipalThingsCommand({ principal: p256Arn }))).things).toEqual([
      "dev-1",
    ]);
    expect((await rejection(client.send(new DeleteCertificateCommand({ certificateId: p256Id })))).name).toBe(
      "DeleteConflictException",
    );
    const t0 = Date.now();
    let things: string[] | undefined = ["dev-1"];
    while (things?.length && Date.now() - t0 < 5000) {
      await new Promise((r) => setTimeout(r, 50));
      things = (await client.send(new ListPrincipalThingsCommand({ principal: p256Arn }))).things;
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
      client.send(new DeleteCertificateCommand({ certificateId: p256Id })),
    );
    expect(policyAttached.name).toBe("DeleteConflictException");
    expect(policyAttached.message).toMatch(/dev-policy/);
    await client.send(new DeleteCertificateCommand({ certificateId: p256Id, forceDelete: true }));
    expect(
      (await rejection(client.send(new DescribeCertificateCommand({ certificateId: p256Id })))).name,
    ).toBe("ResourceNotFoundException");
    expect(
      (
        await client.send(
          new ListAttachedPoliciesCommand({ target: `arn:aws:iot:us-east-1:123456789012:cert/${rsaId}` }),
        )
      ).policies,
    ).toEqual([]);
    await client.send(new DeletePolicyCommand({ policyName: "dev-policy" })); // the forced delete detached it

    await client.send(new UpdateCertificateCommand({ certificateId: rsaId, newStatus: "REVOKED" }));
    expect(
      (
        await rejection(
          client.send(new UpdateCertificateCommand({ certificateId: rsaId, newStatus: "ACTIVE" })),
        )
      ).name,
    ).toBe("CertificateStateException");
  });

  it("answers DescribeEndpoint iot:Data-ATS with the local data endpoint", async () => {
    const r = await client.send(new DescribeEndpointCommand({ endpointType: "iot:Data-ATS" }));
    expect(r.endpointAddress).toBe(iot.endpoint);
    expect(r.endpointAddress).toBe("127.0.0.1");
    const legacy = await client.send(new DescribeEndpointCommand({}));
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
    const before = {
      certs: (await client.send(new ListCertificatesCommand({ pageSize: 250 }))).certificates?.map((c) => [
        c.certificateId,
        c.status,
      ]),
      things: (await client.send(new ListThingsCommand({}))).things?.map((t) => [t.thingName, t.attributes]),
      policies: (await client.send(new ListPoliciesCommand({}))).policies,
    };
    await client.send(new CreatePolicyCommand({ policyName: "kept", policyDocument: POLICY }));
    const credentials = { ...iot.credentials };
    const caPem = iot.caPem;
    client.destroy();
    await iot.stop();
    iot = await startLocalIot({ stateDir, withoutBroker: true, detachDelayMs: 300 });
    client = newClient();
    expect(iot.credentials).toEqual(credentials);
    expect(iot.caPem).toBe(caPem);
    const after = {
      certs: (await client.send(new ListCertificatesCommand({ pageSize: 250 }))).certificates?.map((c) => [
        c.certificateId,
        c.status,
      ]),
      things: (await client.send(new ListThingsCommand({}))).things?.map((t) => [t.thingName, t.attributes]),
      policies: (await client.send(new ListPoliciesCommand({}))).policies,
    };
    expect(after.certs).toEqual(before.certs);
    expect(after.things).toEqual(before.things);
    expect(after.policies?.map((p) => p.policyName).sort()).toEqual(
      [...(before.policies ?? []).map((p) => p.policyName), "kept"].sort(),
    );
  });
});

describe("malformed and unauthenticated requests", () => {
  it("answers AWS-shaped errors for bad JSON, missing fields, unknown operations and bad signatures", async () => {
    const badJson = await raw("POST", "/policies/p-x", { body: "{not json" });
    expect([badJson.status, badJson.errorType]).toEqual([400, "InvalidRequestException"]);
    expect(JSON.parse(badJson.body).message).toMatch(/not valid JSON/);

    const missing = await raw("POST", "/policies/p-x", { body: "{}" });
    expect([missing.status, missing.errorType]).toEqual([400, "InvalidRequestException"]);
    expect(JSON.parse(missing.body).message).toMatch(/policyDocument is required/);

    const noPrincipal = await raw("GET", "/principals/things");
    expect([noPrincipal.status, noPrincipal.errorType]).toEqual([400, "InvalidRequestException"]);

    const unknown = await raw("GET", "/no/such/operation");
    expect([unknown.status, unknown.errorType]).toEqual([404, "UnknownOperationException"]);

    const unsigned = await raw("GET", "/things", { sign: "none" });
    expect([unsigned.status, unsigned.errorType]).toEqual([403, "MissingAuthenticationTokenException"]);

    const wrongSecret = await raw("GET", "/things", { sign: { secret: "not-the-secret" } });
    expect([wrongSecret.status, wrongSecret.errorType]).toEqual([403, "InvalidSignatureException"]);

    const wrongRegion = await raw("GET", "/things", { sign: { region: "eu-west-1" } });
    expect([wrongRegion.status, wrongRegion.errorType]).toEqual([403, "InvalidSignatureException"]);

    // The signed x-amz-content-sha256 must be the body's: a body changed after signing is refused.
    const signedDoc = JSON.stringify({ policyDocument: "{}" });
    const tampered = await raw("POST", "/policies/p-tampered", {
      body: signedDoc,
      sendBody: signedDoc.replace("{}", "[]"),
    });
    expect([tampered.status, tampered.errorType]).toEqual([403, "InvalidSignatureException"]);

    // AWS: a request must arrive within five minutes of its signing time.
    const stale = await raw("GET", "/things", { sign: { signingDate: new Date(Date.now() - 10 * 60_000) } });
    expect([stale.status, stale.errorType]).toEqual([403, "InvalidSignatureException"]);
    const recent = await raw("GET", "/things", { sign: { signingDate: new Date(Date.now() - 2 * 60_000) } });
    expect(recent.status).toBe(200);

    // Clients that do not sign x-amz-content-sha256 (botocore, the AWS CLI) are valid SigV4 too.
    const noContentHash = await raw("GET", "/things", { sign: { applyChecksum: false } });
    expect(noContentHash.status).toBe(200);

    // AWS IoT's signing name in its API reference is execute-api; Debian 12's AWS CLI 2.9 signs with it
    // (botocore: no x-amz-content-sha256). Any other service is refused, naming the expected one.
    const cliSigned = await raw("POST", "/things/cli-signed-thing", {
      body: "{}",
      sign: { service: "execute-api", applyChecksum: false },
    });
    expect(cliSigned.status).toBe(200);
    expect(JSON.parse(cliSigned.body).thingName).toBe("cli-signed-thing");
    const cliDeleted = await raw("DELETE", "/things/cli-signed-thing", {
      sign: { service: "execute-api", applyChecksum: false },
    });
    expect(cliDeleted.status).toBe(200);
    const otherService = await raw("GET", "/things", { sign: { service: "s3" } });
    expect([otherService.status, otherService.errorType]).toEqual([403, "InvalidSignatureException"]);
    expect(JSON.parse(otherService.body).message).toMatch(/scoped to correct service: 'iot', not 's3'/);
    // Service Quotas' own signing name is not good for an IoT operation.
    const quotasName = await raw("GET", "/things", { sign: { service: "servicequotas" } });
    expect(quotasName.status).toBe(403);

    const tooBig = await raw("POST", "/certificates", { body: Buffer.alloc(70 * 1024, 0x61) });
    expect([tooBig.status, tooBig.errorType]).toEqual([400, "InvalidRequestException"]);

    const wrongKey = new IoTClient({
      endpoint: iot.controlPlaneUrl,
      region: iot.region,
      credentials: { accessKeyId: "AKIDNOTLOCAL00000000", secretAccessKey: "x" },
      maxAttempts: 1,
    });
    const e = await rejection(wrongKey.send(new ListThingsCommand({})));
    expect(e.name).toBe("UnrecognizedClientException");
    expect(e.$metadata?.httpStatusCode).toBe(403);
    wrongKey.destroy();
  });

  it("refuses thing attributes outside AWS's patterns (a '+' or a space in a value, '=' in a name)", async () => {
    // AWS: name [a-zA-Z0-9_.,@/:#-]+ (<= 128), value [a-zA-Z0-9_.,@/:#=\[\]-]* (<= 800).
    const cases: Record<string, string>[] = [
      { firmware: "1.0.0+twin" },
      { note: "two words" },
      { "a=b": "x" },
    ];
    for (const attributes of cases) {
      const e = await rejection(
        client.send(new CreateThingCommand({ thingName: "attr-bad", attributePayload: { attributes } })),
      );
      expect([e.name, JSON.stringify(attributes)]).toEqual([
        "InvalidRequestException",
        JSON.stringify(attributes),
      ]);
    }
  });

  it("stays up under 1,000 malformed requests and still serves real clients", async () => {
    const garbage = [
      () => raw("POST", "/certificates", { body: "][" }),
      () => raw("GET", `/things/${"%zz"}`),
      () => raw("PUT", "/certificates/abc?newStatus=ACTIVE"),
      () => raw("DELETE", "/certificates"),
      () => raw("GET", "/things", { sign: "none", headers: { authorization: "AWS4-HMAC-SHA256 garbage" } }),
      () => raw("POST", "/things/ok-name", { body: '{"attributePayload":{"attributes":[1,2]}}' }),
      () => raw("POST", "/certificates?setAsActive=maybe", { body: '{"certificateSigningRequest":"x"}' }),
      () => raw("GET", "/things?maxResults=-5"),
      () => raw("GET", "/certificates?marker=%%%"),
      () => raw("POST", "/things/bad%20name", { body: "{}" }),
    ];
    const statuses = new Map<number, number>();
    for (let i = 0; i < 1000; i++) {
      const r = await (garbage[i % garbage.length] as () => Promise<RawResponse>)();
      statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
      if (r.status < 400) throw new Error(`garbage request ${i % garbage.length} got ${r.status}: ${r.body}`);
      expect(r.status).toBeGreaterThanOrEqual(400);
      expect(r.status).toBeLessThan(500);
      expect(r.errorType).toBeTruthy();
    }
    // Not HTTP at all.
    for (let i = 0; i < 20; i++) {
      await new Promise<void>((res) => {
        const url = new URL(iot.controlPlaneUrl);
        const s = connect(Number(url.port), url.hostname, () =>
          s.end(Buffer.from([0x16, 0x03, 0x01, 0xff, 0x00, 0x0a])),
        );
        s.on("close", () => res());
        s.on("error", () => res());
        s.resume();
      });
    }
    expect((await client.send(new ListThingsCommand({}))).things?.length).toBe(2);
    expect(iot.stats()["(unknown)"]?.requests).toBeGreaterThan(0);
  });
});

describe("fault injection", () => {
  afterAll(() => iot.setFaults({}));

  it("surfaces ThrottlingException by name with maxAttempts 1, and the SDK retries it otherwise", async () => {
    iot.setFaults({ operations: { ListThings: { throttleRate: 1 } } });
    const once = newClient({ maxAttempts: 1 });
    const before = iot.stats().ListThings?.requests ?? 0;
    const e = await rejection(once.send(new ListThingsCommand({})));
    expect(e.name).toBe("ThrottlingException");
    expect(e.$metadata?.httpStatusCode).toBe(400);
    expect(e.$metadata?.attempts).toBe(1);
    const thrice = newClient({ maxAttempts: 3 });
    const e3 = await rejection(thrice.send(new ListThingsCommand({})));
    expect(e3.name).toBe("ThrottlingException");
    expect(e3.$metadata?.attempts).toBe(3);
    expect((iot.stats().ListThings?.requests ?? 0) - before).toBe(4);
    // Other operations are untouched.
    expect((await once.send(new ListPoliciesCommand({}))).policies).toBeDefined();
    once.destroy();
    thrice.destroy();
  });

  it("injects 5xx errors the SDK classifies as server faults", async () => {
    iot.setFaults({ seed: 5, default: { serverErrorRate: 1 } });
    const once = newClient({ maxAttempts: 1 });
    const names = new Set<string>();
    for (let i = 0; i < 8; i++) {
      const e = await rejection(once.send(new DescribeEndpointCommand({ endpointType: "iot:Data-ATS" })));
      names.add(e.name);
      expect([500, 503]).toContain(e.$metadata?.httpStatusCode);
    }
    expect([...names].sort()).toEqual(["InternalFailureException", "ServiceUnavailableException"]);
    once.destroy();
  });

  it("retries through a 50% throttle rate to success, visibly in attempts and stats", async () => {
    iot.setFaults({ seed: 42, operations: { ListPolicies: { throttleRate: 0.5 } } });
    const patient = newClient({ maxAttempts: 10 });
    const before = iot.stats().ListPolicies ?? { requests: 0, throttled: 0, ok: 0 };
    let retried = 0;
    for (let i = 0; i < 6; i++) {
      const r = await patient.send(new ListPoliciesCommand({}));
      if ((r.$metadata.attempts ?? 1) > 1) retried++;
    }
    const after = iot.stats().ListPolicies;
    expect(retried).toBeGreaterThan(0);
    expect((after?.ok ?? 0) - before.ok).toBe(6);
    expect((after?.throttled ?? 0) - before.throttled).toBe((after?.requests ?? 0) - before.requests - 6);
    patient.destroy();
  });

  it("rate-limits an operation to maxRps", async () => {
    iot.setFaults({ operations: { DescribeEndpoint: { maxRps: 5 } } });
    const once = newClient({ maxAttempts: 1 });
    const results = await Promise.allSettled(
      Array.from({ length: 12 }, () =>
        once.send(new DescribeEndpointCommand({ endpointType: "iot:Data-ATS" })),
      ),
    );
    const ok = results.filter((r) => r.status === "fulfilled").length;
    const throttled = results.filter(
      (r) => r.status === "rejected" && (r.reason as Error).name === "ThrottlingException",
    );
    expect(ok).toBe(5);
    expect(throttled).toHaveLength(7);
    once.destroy();
  });

  it("can fail after the work is done (the unclear failure that leaks certificates on blind retry)", async () => {
    iot.setFaults({ operations: { CreateThing: { serverErrorAfterCommitRate: 1 } } });
    const once = newClient({ maxAttempts: 1 });
    const e = await rejection(once.send(new CreateThingCommand({ thingName: "half-done" })));
    expect(e.name).toBe("InternalFailureException");
    iot.setFaults({});
    expect((await client.send(new DescribeThingCommand({ thingName: "half-done" }))).thingName).toBe(
      "half-done",
    );
    once.destroy();
  });
});

describe("durability", () => {
  it("a request still in flight when the service stops never writes the state dir afterwards", async () => {
    const stateDir = join(dir, "stop-in-flight");
    const first = await startLocalIot({
      stateDir,
      withoutBroker: true,
      faults: { operations: { CreateThing: { latencyMs: 400 } } },
    });
    const c1 = newClient({
      endpoint: first.controlPlaneUrl,
      credentials: { ...first.credentials },
      maxAttempts: 1,
    });
    const late = c1.send(new CreateThingCommand({ thingName: "from-stopped" })).catch(() => undefined);
    await new Promise((r) => setTimeout(r, 100)); // the request is waiting out its latency
    await first.stop();
    c1.destroy();
    // A new instance on the same state dir acknowledges a change...
    const second = await startLocalIot({ stateDir, withoutBroker: true });
    const c2 = newClient({ endpoint: second.controlPlaneUrl, credentials: { ...second.credentials } });
    await c2.send(new CreateThingCommand({ thingName: "acknowledged" }));
    await late;
    await new Promise((r) => setTimeout(r, 500)); // past the stopped instance's latency
    c2.destroy();
    await second.stop();
    // ...which the stopped instance's late write must not have replaced.
    const things = Object.keys(JSON.parse(readFileSync(join(stateDir, "state.json"), "utf8")).things);
    expect(things).toEqual(["acknowledged"]);
  });

  it("keeps every acknowledged change when the process is killed (SIGKILL) right after answering", async () => {
    const killState = join(dir, "kill-state");
    const child = spawn(
      process.execPath,
      ["--import", "tsx", join(import.meta.dirname, "testdata", "serve-for-test.ts"), killState],
      {
        cwd: REPO_ROOT,
        stdio: ["ignore", "pipe", "inherit"],
      },
    );
    try {
      const line = await new Promise<string>((res, rej) => {
        let buf = "";
        child.stdout.on("data", (c: Buffer) => {
          buf += c.toString();
          if (buf.includes("\n")) res(buf.split("\n")[0] as string);
        });
        child.on("exit", (code) => rej(new Error(`service child exited early (${code})`)));
      });
      const info = JSON.parse(line) as {
        url: string;
        region: string;
        credentials: { accessKeyId: string; secretAccessKey: string };
      };
      const c = new IoTClient({
        endpoint: info.url,
        region: info.region,
        credentials: { ...info.credentials },
        maxAttempts: 1,
      });
      const cert = await c.send(
        new CreateCertificateFromCsrCommand({
          certificateSigningRequest: opensslCsr("killed", P256),
          setAsActive: true,
        }),
      );
      await c.send(new CreateThingCommand({ thingName: "survivor" }));
      await c.send(
        new AttachThingPrincipalCommand({ thingName: "survivor", principal: cert.certificateArn }),
      );
      // Concurrent writes share group commits; every acknowledged one must still be on disk.
      const names = Array.from({ length: 20 }, (_, i) => `burst-${i}`);
      await Promise.all(names.map((thingName) => c.send(new CreateThingCommand({ thingName }))));
      child.kill("SIGKILL"); // no graceful shutdown: only what was on disk before each answer survives
      c.destroy();
      await new Promise((r) => child.once("exit", r));
      const again = await startLocalIot({ stateDir: killState, withoutBroker: true });
      try {
        expect(again.store.getCertificate(cert.certificateId ?? "")?.status).toBe("ACTIVE");
        expect(again.store.principalThings(cert.certificateArn ?? "")).toEqual(["survivor"]);
        expect(again.credentials).toEqual(info.credentials);
        const c2 = new IoTClient({
          endpoint: again.controlPlaneUrl,
          region: again.region,
          credentials: { ...again.credentials },
        });
        const listed = await c2.send(new ListThingsCommand({ maxResults: 100 }));
        expect(listed.things?.map((t) => t.thingName).sort()).toEqual([...names, "survivor"].sort());
        c2.destroy();
      } finally {
        await again.stop();
      }
    } finally {
      if (child.exitCode === null) child.kill("SIGKILL");
    }
  });
});
