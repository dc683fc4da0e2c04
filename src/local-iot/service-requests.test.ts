import { connect } from "node:net";
import {
  CreateThingCommand,
  DescribeEndpointCommand,
  DescribeThingCommand,
  IoTClient,
  ListPoliciesCommand,
  ListThingsCommand,
} from "@aws-sdk/client-iot";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { LocalIot } from "./service.js";
import { newClient, type RawResponse, raw, rejection, useService } from "./service.test-helper.js";

let iot: LocalIot;
let client: IoTClient;
useService((s) => {
  ({ iot, client } = s);
});

describe("malformed and unauthenticated requests", () => {
  // The things a real client must still list after the garbage (the control-plane tests made two
  // when both shared one service).
  beforeAll(async () => {
    for (const thingName of ["served-1", "served-2"])
      await client.send(new CreateThingCommand({ thingName }));
  });

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
