/**
 * The AWS-only behaviour of the registry, checked on the HTTP requests the
 * real SDK sends to a recording server on 127.0.0.1 that answers the way
 * AWS IoT answers (restJson1: error name in x-amzn-errortype).
 */
import { once } from "node:events";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { ProvisionError } from "../src/errors.js";
import { rejection } from "../src/errors.test-helper.js";
import { isUnclearOutcome } from "../src/registry/aws-errors.js";
import { createAwsRegistry, mapAwsError, OperationRateLimiter } from "../src/registry/index.js";

interface Captured {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingMessage["headers"];
  body: string;
}

type Responder = (req: Captured) => { status: number; body?: unknown; errorType?: string; raw?: string };

let server: Server;
let url: string;
let captured: Captured[] = [];
let respond: Responder = () => ({ status: 200, body: {} });

const CREDS = {
  accessKeyId: "AKIDEXAMPLEKEY000000",
  secretAccessKey: "not-a-real-secret-key-0000000000000000000",
};

beforeAll(async () => {
  server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let body = "";
    req.on("data", (c) => {
      body += c;
    });
    req.on("end", () => {
      const u = new URL(req.url ?? "/", "http://x");
      const c: Captured = {
        method: req.method ?? "",
        path: u.pathname,
        query: u.searchParams,
        headers: req.headers,
        body,
      };
      captured.push(c);
      const r = respond(c);
      const headers: Record<string, string> = { "content-type": "application/json" };
      if (r.errorType) headers["x-amzn-errortype"] = r.errorType;
      res.writeHead(r.status, headers);
      res.end(
        r.raw ??
          JSON.stringify(r.body ?? (r.errorType ? { message: `${r.errorType} from the test server` } : {})),
      );
    });
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(() => server.close());
afterEach(() => {
  captured = [];
  respond = () => ({ status: 200, body: {} });
});

const registry = (extra: Parameters<typeof createAwsRegistry>[0] = {}) =>
  createAwsRegistry({ region: "eu-west-1", endpoint: url, credentials: CREDS, ...extra });

describe("request shapes", () => {
  it("DescribeEndpoint always asks for iot:Data-ATS", async () => {
    respond = () => ({ status: 200, body: { endpointAddress: "abc123-ats.iot.eu-west-1.amazonaws.com" } });
    const r = await registry();
    expect(await r.describeEndpoint()).toBe("abc123-ats.iot.eu-west-1.amazonaws.com");
    expect(captured).toHaveLength(1);
    expect(captured[0]?.method).toBe("GET");
    expect(captured[0]?.path).toBe("/endpoint");
    expect(captured[0]?.query.get("endpointType")).toBe("iot:Data-ATS");
    // SigV4 for service "iot" in the configured region; the secret never travels.
    expect(captured[0]?.headers.authorization).toMatch(
      /^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLEKEY000000\/\d{8}\/eu-west-1\/iot\/aws4_request/,
    );
    expect(JSON.stringify(captured[0]?.headers)).not.toContain(CREDS.secretAccessKey);
    await r.close();
  });

  it("CreateCertificateFromCsr, AttachPolicy, AttachThingPrincipal match the AWS API", async () => {
    const arn = `arn:aws:iot:eu-west-1:123456789012:cert/${"a".repeat(64)}`;
    respond = (c) =>
      c.path === "/certificates"
        ? { status: 200, body: { certificateArn: arn, certificateId: "a".repeat(64), certificatePem: "PEM" } }
        : { status: 200, body: {} };
    const r = await registry();
    await r.createCertificateFromCsr(
      "-----BEGIN CERTIFICATE REQUEST-----\nX\n-----END CERTIFICATE REQUEST-----\n",
      true,
    );
    await r.attachPolicy("my-policy", arn);
    await r.attachThingPrincipal("my-thing", arn, { exclusive: true });
    const [create, attachPolicy, attachThing] = captured;
    expect([create?.method, create?.path, create?.query.get("setAsActive")]).toEqual([
      "POST",
      "/certificates",
      "true",
    ]);
    expect(JSON.parse(create?.body ?? "")).toEqual({
      certificateSigningRequest:
        "-----BEGIN CERTIFICATE REQUEST-----\nX\n-----END CERTIFICATE REQUEST-----\n",
    });
    expect([attachPolicy?.method, attachPolicy?.path]).toEqual(["PUT", "/target-policies/my-policy"]);
    expect(JSON.parse(attachPolicy?.body ?? "")).toEqual({ target: arn });
    expect([attachThing?.method, attachThing?.path]).toEqual(["PUT", "/things/my-thing/principals"]);
    expect(attachThing?.headers["x-amzn-principal"]).toBe(arn);
    expect(attachThing?.query.get("thingPrincipalType")).toBe("EXCLUSIVE_THING");
    await r.close();
  });
});

describe("thing attributes", () => {
  it("CreateThing sends only what AWS's attribute patterns accept (a firmware version like 1.0.0+twin)", async () => {
    respond = () => ({
      status: 200,
      body: { thingName: "t", thingArn: "arn:aws:iot:eu-west-1:123456789012:thing/t" },
    });
    const r = await registry();
    await r.createThing("t", { firmware: "1.0.0+twin", "odd key!": "a b", ok: "x=[1]" }, { lookedUp: true });
    const sent = JSON.parse(captured[0]?.body ?? "{}").attributePayload.attributes as Record<string, string>;
    for (const [k, v] of Object.entries(sent)) {
      expect(k).toMatch(/^[a-zA-Z0-9_.,@/:#-]{1,128}$/);
      expect(v).toMatch(/^[a-zA-Z0-9_.,@/:#=[\]-]{0,800}$/);
    }
    expect(sent).toEqual({ firmware: "1.0.0_twin", odd_key_: "a_b", ok: "x=[1]" });
    await r.close();
  });
});

describe("retries", () => {
  it("maxAttempts and retryMode are applied: a throttled call is sent maxAttempts times, then CLOUD_THROTTLED", async () => {
    respond = () => ({ status: 400, errorType: "ThrottlingException" });
    const r = await registry({ maxAttempts: 4, retryMode: "adaptive" });
    expect(await r.client.config.maxAttempts()).toBe(4);
    const strategy = (await r.client.config.retryStrategy()) as { mode?: string };
    expect(strategy.mode).toBe("adaptive");
    const e = await rejection(r.attachPolicy("p", "arn:aws:iot:eu-west-1:123456789012:cert/x"));
    expect(captured).toHaveLength(4);
    expect(e.code).toBe("CLOUD_THROTTLED");
    expect(e.message).toMatch(/throttled AttachPolicy \(ThrottlingException\) after 4 attempts/);
    await r.close();
  });

  it("CreateCertificateFromCsr is never retried after a 5xx (a retry would issue a second certificate)", async () => {
    respond = () => ({ status: 500, errorType: "InternalFailureException" });
    const r = await registry({ maxAttempts: 5 });
    const e = await rejection(r.createCertificateFromCsr("CSR", true));
    expect(captured).toHaveLength(1);
    expect(e.code).toBe("CLOUD_FAILED");
    expect(e.message).toMatch(/CreateCertificateFromCsr failed: InternalFailureException \(HTTP 500\)/);
    await r.close();
  });

  it("a 2xx CreateCertificateFromCsr answer that cannot be used is an unclear outcome (the certificate exists)", async () => {
    const r = await registry();
    // As the ledger's step judges it: the cause when there is one.
    const unclear = (e: ProvisionError) => isUnclearOutcome((e as { cause?: unknown }).cause ?? e);
    respond = () => ({ status: 200, body: {} });
    const noCertificate = await rejection(r.createCertificateFromCsr("CSR", true));
    expect(noCertificate.message).toMatch(/without a certificate/);
    expect(unclear(noCertificate)).toBe(true);
    respond = () => ({ status: 200, raw: "{not json" });
    const unreadable = await rejection(r.createCertificateFromCsr("CSR", true));
    expect(unclear(unreadable)).toBe(true);
    expect(captured).toHaveLength(2);
    await r.close();
  });

  it("a failure after SDK retries is unclear when an earlier attempt may have taken effect", async () => {
    // CreateThing: the first answer is lost (500 after the thing was made), the retries are throttled.
    let n = 0;
    respond = () =>
      n++ === 0
        ? { status: 500, errorType: "InternalFailureException" }
        : { status: 400, errorType: "ThrottlingException" };
    const r = await registry({ maxAttempts: 3 });
    const e = await rejection(r.createThing("thing-retried", {}, { lookedUp: true }));
    expect(captured).toHaveLength(3);
    expect(e.code).toBe("CLOUD_THROTTLED");
    expect(isUnclearOutcome((e as { cause?: unknown }).cause ?? e)).toBe(true);
    // One attempt refused before doing anything stays a clear failure.
    respond = () => ({ status: 400, errorType: "ThrottlingException" });
    const once = await registry({ maxAttempts: 1 });
    const clear = await rejection(once.createThing("thing-once", {}, { lookedUp: true }));
    expect(isUnclearOutcome((clear as { cause?: unknown }).cause ?? clear)).toBe(false);
    await r.close();
    await once.close();
  });

  it("CreateCertificateFromCsr is retried on throttling, which AWS answers before doing anything", async () => {
    let n = 0;
    respond = () =>
      n++ < 2
        ? { status: 400, errorType: "ThrottlingException" }
        : {
            status: 200,
            body: {
              certificateArn: "arn:aws:iot:eu-west-1:1:cert/b",
              certificateId: "b",
              certificatePem: "P",
            },
          };
    const r = await registry({ maxAttempts: 3 });
    expect((await r.createCertificateFromCsr("CSR", true)).certificateId).toBe("b");
    expect(captured).toHaveLength(3);
    await r.close();
  });

  it("DeleteCertificate retries DeleteConflictException a bounded number of times", async () => {
    let n = 0;
    respond = () =>
      n++ < 2 ? { status: 409, errorType: "DeleteConflictException" } : { status: 200, body: {} };
    const r = await registry();
    await r.deleteCertificate("c".repeat(64));
    expect(captured.map((c) => [c.method, c.path, c.query.get("forceDelete")])).toEqual([
      ["DELETE", `/certificates/${"c".repeat(64)}`, "false"],
      ["DELETE", `/certificates/${"c".repeat(64)}`, "false"],
      ["DELETE", `/certificates/${"c".repeat(64)}`, "false"],
    ]);
    await r.close();
  });
});

describe("error mapping", () => {
  it("UnauthorizedException -> CLOUD_ACCESS_DENIED naming the operation and its IAM action", async () => {
    respond = () => ({ status: 401, errorType: "UnauthorizedException" });
    const r = await registry();
    const e = await rejection(
      r.attachThingPrincipal("t", "arn:aws:iot:eu-west-1:123456789012:cert/x", { exclusive: true }),
    );
    expect(e.code).toBe("CLOUD_ACCESS_DENIED");
    expect(e.message).toMatch(
      /^AWS denied AttachThingPrincipal: the caller needs IAM permission iot:AttachThingPrincipal/,
    );
    expect(e.hint).toMatch(/iot:AttachThingPrincipal/);
    await r.close();
  });

  it("a refused connection -> CLOUD_UNREACHABLE naming the endpoint", async () => {
    const closed = createServer();
    closed.listen(0, "127.0.0.1");
    await once(closed, "listening");
    const deadUrl = `http://127.0.0.1:${(closed.address() as AddressInfo).port}`;
    closed.close();
    await once(closed, "close");
    const r = await createAwsRegistry({
      region: "eu-west-1",
      endpoint: deadUrl,
      credentials: CREDS,
      maxAttempts: 1,
    });
    const e = await rejection(r.describeEndpoint());
    expect(e.code).toBe("CLOUD_UNREACHABLE");
    expect(e.message).toBe(`cannot reach AWS IoT at ${deadUrl} for DescribeEndpoint: ECONNREFUSED`);
    await r.close();
  });

  it("no credentials in the standard chain -> CLOUD_NO_CREDENTIALS with a hint, and nothing is sent", async () => {
    const dir = mkdtempSync(join(tmpdir(), "aws-cfg-"));
    const saved = { ...process.env };
    try {
      writeFileSync(join(dir, "config"), "[profile other]\nregion = eu-west-1\n");
      writeFileSync(join(dir, "credentials"), "");
      for (const k of Object.keys(process.env)) if (k.startsWith("AWS_")) delete process.env[k];
      process.env.AWS_CONFIG_FILE = join(dir, "config");
      process.env.AWS_SHARED_CREDENTIALS_FILE = join(dir, "credentials");
      process.env.AWS_EC2_METADATA_DISABLED = "true";
      const r = await createAwsRegistry({ region: "eu-west-1", endpoint: url, profile: "missing-profile" });
      const e = await rejection(r.describeEndpoint());
      expect(e.code).toBe("CLOUD_NO_CREDENTIALS");
      expect(e.hint).toMatch(/aws configure/);
      expect(e.hint).toMatch(/AWS_PROFILE/);
      expect(captured).toHaveLength(0);
      await r.close();
    } finally {
      process.env = saved;
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("LimitExceededException is a quota, with a hint that waiting does not help", () => {
    const e = mapAwsError(
      Object.assign(new Error("too many"), {
        name: "LimitExceededException",
        $metadata: { httpStatusCode: 410, attempts: 3 },
      }),
      { operation: "AttachPolicy", endpoint: "https://iot.eu-west-1.amazonaws.com" },
    );
    expect(e.code).toBe("CLOUD_THROTTLED");
    expect(e.hint).toMatch(/does not clear by itself/);
  });

  it("other service errors -> CLOUD_FAILED naming the operation", async () => {
    respond = () => ({ status: 400, errorType: "InvalidRequestException" });
    const r = await registry();
    const e = await rejection(r.attachPolicy("p", "bad"));
    expect(e.code).toBe("CLOUD_FAILED");
    expect(e.message).toMatch(/^AWS IoT AttachPolicy failed: InvalidRequestException \(HTTP 400\)/);
    await r.close();
  });
});

describe("rate limiter", () => {
  it("keeps one operation to its TPS in any window, never in one burst, and leaves others alone", async () => {
    const limiter = new OperationRateLimiter({ tps: { CreateThing: 9 } });
    const times: number[] = [];
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: 12 }, () =>
        limiter.schedule("CreateThing", async () => times.push(performance.now() - t0)),
      ),
    );
    // 9/s = 10 calls per 1.11 s window: the 11th waits for the window, and no two go together.
    expect(Math.max(...times) - Math.min(...times)).toBeGreaterThanOrEqual(1_100);
    const gaps = times.slice(1).map((t, i) => t - (times[i] as number));
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(40);
    // Another operation is not queued behind CreateThing.
    const other = performance.now();
    await limiter.schedule("DescribeThing", async () => undefined);
    expect(performance.now() - other).toBeLessThan(50);
    expect(limiter.tpsFor("CreateCertificateFromCsr")).toBe(15);
    expect(limiter.tpsFor("DeleteCertificate")).toBe(10);
    expect(limiter.tpsFor("GetPolicy")).toBe(10);
    await limiter.stop();
  });
});
