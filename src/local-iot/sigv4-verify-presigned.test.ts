import { Sha256 } from "@aws-crypto/sha256-js";
import { SignatureV4 } from "@smithy/signature-v4";
import { describe, expect, it } from "vitest";
import { presignMqttUrl } from "../cloud/sigv4-mqtt-url.js";
import { verifyPresignedUpgrade } from "./sigv4-verify.js";

const credentials = { accessKeyId: "AKIDLOCALTEST", secretAccessKey: "local/secret+key=" };
const region = "us-east-1";
const signedAt = new Date(Date.UTC(2026, 10, 27, 8, 0, 0));
const at = (offsetSec: number) => new Date(signedAt.getTime() + offsetSec * 1000);

async function upgradeFor(url: string) {
  const u = new URL(url);
  return { url: `${u.pathname}${u.search}`, headers: { host: u.host } };
}

async function presign(overrides: Partial<Parameters<typeof presignMqttUrl>[0]> = {}) {
  return presignMqttUrl({
    host: "127.0.0.1",
    port: 8443,
    region,
    credentials,
    expiresSec: 300,
    date: signedAt,
    ...overrides,
  });
}

describe("verifyPresignedUpgrade", () => {
  it("accepts a URL from presignMqttUrl within its lifetime", async () => {
    const v = await verifyPresignedUpgrade(
      await upgradeFor(await presign()),
      { credentials, region },
      at(10),
    );
    expect(v).toMatchObject({ ok: true, accessKeyId: "AKIDLOCALTEST" });
  });

  it("accepts a session token appended after signing", async () => {
    const url = await presign({ credentials: { ...credentials, sessionToken: "tok/+=" } });
    expect((await verifyPresignedUpgrade(await upgradeFor(url), { credentials, region }, at(1))).ok).toBe(
      true,
    );
    const pinned = { ...credentials, sessionToken: "tok/+=" };
    expect(
      (await verifyPresignedUpgrade(await upgradeFor(url), { credentials: pinned, region }, at(1))).ok,
    ).toBe(true);
    const other = { ...credentials, sessionToken: "other" };
    expect(
      await verifyPresignedUpgrade(await upgradeFor(url), { credentials: other, region }, at(1)),
    ).toMatchObject({
      ok: false,
      status: 403,
    });
  });

  it("refuses a URL whose session token was signed (as AWS IoT does)", async () => {
    const signer = new SignatureV4({
      service: "iotdevicegateway",
      region,
      credentials: { ...credentials, sessionToken: "tok" },
      sha256: Sha256,
    });
    const req = await signer.presign(
      {
        method: "GET",
        protocol: "wss:",
        hostname: "127.0.0.1",
        path: "/mqtt",
        headers: { host: "127.0.0.1:8443" },
        query: {},
      },
      { expiresIn: 300, signingDate: signedAt },
    );
    const query = new URLSearchParams(req.query as Record<string, string>).toString();
    const v = await verifyPresignedUpgrade(
      { url: `/mqtt?${query}`, headers: { host: "127.0.0.1:8443" } },
      { credentials, region },
      at(1),
    );
    expect(v).toMatchObject({ ok: false, status: 403, reason: "signature does not match" });
  });

  it("refuses a tampered signature, a wrong secret, and a different host", async () => {
    const url = await presign();
    const tampered = url.replace(
      /X-Amz-Signature=([0-9a-f])/,
      (_m, c: string) => `X-Amz-Signature=${c === "0" ? "1" : "0"}`,
    );
    expect(tampered).not.toBe(url);
    expect(
      (await verifyPresignedUpgrade(await upgradeFor(tampered), { credentials, region }, at(1))).ok,
    ).toBe(false);
    const wrongSecret = await presign({ credentials: { ...credentials, secretAccessKey: "nope" } });
    expect(
      await verifyPresignedUpgrade(await upgradeFor(wrongSecret), { credentials, region }, at(1)),
    ).toMatchObject({
      ok: false,
      reason: "signature does not match",
    });
    const req = await upgradeFor(url);
    const v = await verifyPresignedUpgrade(
      { ...req, headers: { host: "127.0.0.1:9999" } },
      { credentials, region },
      at(1),
    );
    expect(v.ok).toBe(false);
  });

  it("refuses expired URLs and URLs dated too far in the future", async () => {
    const url = await presign({ expiresSec: 60 });
    expect((await verifyPresignedUpgrade(await upgradeFor(url), { credentials, region }, at(60))).ok).toBe(
      true,
    );
    expect(
      await verifyPresignedUpgrade(await upgradeFor(url), { credentials, region }, at(61)),
    ).toMatchObject({
      ok: false,
      reason: "presigned URL has expired",
    });
    expect(
      await verifyPresignedUpgrade(await upgradeFor(url), { credentials, region }, at(-301)),
    ).toMatchObject({
      ok: false,
      reason: "signature date is in the future",
    });
  });

  it("refuses another access key, region, or a non-/mqtt path", async () => {
    const otherKey = await presign({ credentials: { ...credentials, accessKeyId: "AKIDOTHER" } });
    expect(
      (await verifyPresignedUpgrade(await upgradeFor(otherKey), { credentials, region }, at(1))).ok,
    ).toBe(false);
    const otherRegion = await presign({ region: "eu-west-1" });
    expect(
      await verifyPresignedUpgrade(await upgradeFor(otherRegion), { credentials, region }, at(1)),
    ).toMatchObject({
      ok: false,
      status: 403,
    });
    const req = await upgradeFor(await presign());
    const v = await verifyPresignedUpgrade(
      { ...req, url: req.url.replace("/mqtt", "/other") },
      { credentials, region },
      at(1),
    );
    expect(v).toMatchObject({ ok: false, status: 404 });
    expect(
      (await verifyPresignedUpgrade({ url: "/mqtt", headers: {} }, { credentials, region }, at(1))).ok,
    ).toBe(false);
  });
});
