import { createHash, createHmac } from "node:crypto";
import { describe, expect, it } from "vitest";
import { presignMqttUrl, sigv4UriEncode } from "./sigv4-mqtt-url.js";

/**
 * An independent SigV4 query-string presigner written from the AWS
 * documentation with node:crypto only, checked below against AWS's own
 * published example values, so it can judge the smithy-based presigner.
 */
function hmac(key: Buffer | string, data: string): Buffer {
  return createHmac("sha256", key).update(data, "utf8").digest();
}

function signingKey(secret: string, shortDate: string, region: string, service: string): Buffer {
  return hmac(hmac(hmac(hmac(`AWS4${secret}`, shortDate), region), service), "aws4_request");
}

interface IndependentPresign {
  accessKeyId: string;
  secretAccessKey: string;
  longDate: string; // YYYYMMDDTHHMMSSZ
  region: string;
  service: string;
  host: string;
  path: string;
  expiresSec: number;
  payloadHash: string;
}

function independentPresign(p: IndependentPresign): { query: string; signature: string } {
  const shortDate = p.longDate.slice(0, 8);
  const scope = `${shortDate}/${p.region}/${p.service}/aws4_request`;
  const params: [string, string][] = [
    ["X-Amz-Algorithm", "AWS4-HMAC-SHA256"],
    ["X-Amz-Credential", `${p.accessKeyId}/${scope}`],
    ["X-Amz-Date", p.longDate],
    ["X-Amz-Expires", String(p.expiresSec)],
    ["X-Amz-SignedHeaders", "host"],
  ];
  const canonicalQuery = params
    .map(([k, v]) => `${sigv4UriEncode(k)}=${sigv4UriEncode(v)}`)
    .sort()
    .join("&");
  const canonicalRequest = ["GET", p.path, canonicalQuery, `host:${p.host}\n`, "host", p.payloadHash].join(
    "\n",
  );
  const stringToSign = [
    "AWS4-HMAC-SHA256",
    p.longDate,
    scope,
    createHash("sha256").update(canonicalRequest).digest("hex"),
  ].join("\n");
  const signature = createHmac("sha256", signingKey(p.secretAccessKey, shortDate, p.region, p.service))
    .update(stringToSign)
    .digest("hex");
  return { query: canonicalQuery, signature };
}

const EMPTY_SHA256 = createHash("sha256").update("").digest("hex");
const EXAMPLE_KEY_ID = "AKIAIOSFODNN7EXAMPLE";
const EXAMPLE_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

describe("independent SigV4 reference (checked against AWS's published examples)", () => {
  it("derives the signing key of the AWS documentation example", () => {
    // docs.aws.amazon.com "Examples of how to derive a signing key for Signature Version 4"
    const k = signingKey("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "20120215", "us-east-1", "iam");
    expect(k.toString("hex")).toBe("f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d");
  });

  it("reproduces the S3 presigned-URL example signature", () => {
    // Amazon S3 API reference, "Authenticating Requests: Using Query Parameters", GET /test.txt example
    const r = independentPresign({
      accessKeyId: EXAMPLE_KEY_ID,
      secretAccessKey: EXAMPLE_SECRET,
      longDate: "20130524T000000Z",
      region: "us-east-1",
      service: "s3",
      host: "examplebucket.s3.amazonaws.com",
      path: "/test.txt",
      expiresSec: 86400,
      payloadHash: "UNSIGNED-PAYLOAD",
    });
    expect(r.signature).toBe("aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404");
  });
});

describe("presignMqttUrl", () => {
  const date = new Date(Date.UTC(2026, 10, 27, 8, 30, 0));
  const longDate = "20261127T083000Z";
  /** What the independent reference signs for GET /mqtt on iotdevicegateway with the example keys. */
  const referenceMqttUrl = (host: string, region: string, expiresSec: number) =>
    independentPresign({
      accessKeyId: EXAMPLE_KEY_ID,
      secretAccessKey: EXAMPLE_SECRET,
      longDate,
      region,
      service: "iotdevicegateway",
      host,
      path: "/mqtt",
      expiresSec,
      payloadHash: EMPTY_SHA256,
    });

  it("signs GET /mqtt for iotdevicegateway exactly like the independent reference", async () => {
    const url = await presignMqttUrl({
      host: "abc123-ats.iot.eu-west-1.amazonaws.com",
      region: "eu-west-1",
      credentials: { accessKeyId: EXAMPLE_KEY_ID, secretAccessKey: EXAMPLE_SECRET },
      expiresSec: 86400,
      date,
    });
    const ref = referenceMqttUrl("abc123-ats.iot.eu-west-1.amazonaws.com", "eu-west-1", 86400);
    // the URL lists its parameters sorted, the signature among them
    const expectedQuery = [...ref.query.split("&"), `X-Amz-Signature=${ref.signature}`].sort().join("&");
    expect(url).toBe(`wss://abc123-ats.iot.eu-west-1.amazonaws.com/mqtt?${expectedQuery}`);
    expect(url).toContain(
      "X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20261127%2Feu-west-1%2Fiotdevicegateway%2Faws4_request",
    );
  });

  it("includes a non-default port in the URL and the signed host", async () => {
    const url = await presignMqttUrl({
      host: "127.0.0.1",
      port: 8443,
      region: "us-east-1",
      credentials: { accessKeyId: EXAMPLE_KEY_ID, secretAccessKey: EXAMPLE_SECRET },
      expiresSec: 60,
      date,
    });
    const ref = referenceMqttUrl("127.0.0.1:8443", "us-east-1", 60);
    expect(url.startsWith("wss://127.0.0.1:8443/mqtt?")).toBe(true);
    expect(new URL(url).searchParams.get("X-Amz-Signature")).toBe(ref.signature);
  });

  it("appends the session token after signing, URL-encoded, leaving the signature unchanged", async () => {
    const token = "FwoGZXIvYXdzE/+abc=def==";
    const common = {
      host: "abc123-ats.iot.eu-west-1.amazonaws.com",
      region: "eu-west-1",
      expiresSec: 300,
      date,
    };
    const withToken = await presignMqttUrl({
      ...common,
      credentials: { accessKeyId: EXAMPLE_KEY_ID, secretAccessKey: EXAMPLE_SECRET, sessionToken: token },
    });
    const without = await presignMqttUrl({
      ...common,
      credentials: { accessKeyId: EXAMPLE_KEY_ID, secretAccessKey: EXAMPLE_SECRET },
    });
    expect(withToken).toBe(`${without}&X-Amz-Security-Token=FwoGZXIvYXdzE%2F%2Babc%3Ddef%3D%3D`);
    expect(new URL(withToken).searchParams.get("X-Amz-Security-Token")).toBe(token);
    const ref = referenceMqttUrl("abc123-ats.iot.eu-west-1.amazonaws.com", "eu-west-1", 300);
    expect(new URL(withToken).searchParams.get("X-Amz-Signature")).toBe(ref.signature);
  });

  it("refuses an expiry SigV4 cannot carry", async () => {
    const credentials = { accessKeyId: EXAMPLE_KEY_ID, secretAccessKey: EXAMPLE_SECRET };
    await expect(presignMqttUrl({ host: "h", region: "r", credentials, expiresSec: 0 })).rejects.toThrow(
      /expiresSec/,
    );
    await expect(
      presignMqttUrl({ host: "h", region: "r", credentials, expiresSec: 604_801 }),
    ).rejects.toThrow(/expiresSec/);
  });
});
