/**
 * Server side of MQTT over WebSocket with SigV4: decides whether the query of
 * a `GET /mqtt` upgrade request is a valid presigned URL for the local
 * service's credentials. Pure apart from the clock (passed in).
 *
 * The signature is recomputed with @smithy/signature-v4 from the request's
 * own parameters (date, expiry, signed headers) and compared in constant
 * time. Like AWS IoT, the session token is not part of the signature: it is
 * removed before recomputing, so a client that signed it is refused.
 */
import { timingSafeEqual } from "node:crypto";
import { Sha256 } from "@aws-crypto/sha256-js";
import { SignatureV4 } from "@smithy/signature-v4";
import {
  IOT_DEVICE_GATEWAY_SERVICE,
  MQTT_WS_PATH,
  PRESIGN_EXPIRES_SEC_MAX,
} from "../../cloud/sigv4-mqtt-url.js";

/** Clock skew tolerated for a URL signed "in the future", as AWS allows for SigV4. */
export const SIGV4_CLOCK_SKEW_MS = 5 * 60_000;

export interface LocalCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  /** When set, the appended X-Amz-Security-Token must equal it; otherwise any token is accepted. */
  sessionToken?: string;
}

export type UpgradeVerdict =
  | { ok: true; accessKeyId: string; signedAt: Date; expiresAt: Date }
  | { ok: false; status: 403 | 404; reason: string };

export interface UpgradeRequest {
  url: string;
  headers: Record<string, string | string[] | undefined>;
}

function parseAmzDate(s: string): Date | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(s);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, se] = m.map(Number) as number[];
  return new Date(Date.UTC(y as number, (mo as number) - 1, d, h, mi, se));
}

function deny(reason: string): UpgradeVerdict {
  return { ok: false, status: 403, reason };
}

export async function verifyPresignedUpgrade(
  req: UpgradeRequest,
  expected: { credentials: LocalCredentials; region: string },
  now: Date = new Date(),
): Promise<UpgradeVerdict> {
  const url = new URL(req.url, "https://placeholder.invalid");
  if (url.pathname !== MQTT_WS_PATH)
    return { ok: false, status: 404, reason: `no WebSocket endpoint at ${url.pathname}` };
  const q = url.searchParams;
  const algorithm = q.get("X-Amz-Algorithm");
  const credential = q.get("X-Amz-Credential");
  const amzDate = q.get("X-Amz-Date");
  const expiresText = q.get("X-Amz-Expires");
  const signedHeaders = q.get("X-Amz-SignedHeaders");
  const signature = q.get("X-Amz-Signature");
  if (algorithm !== "AWS4-HMAC-SHA256") return deny("X-Amz-Algorithm must be AWS4-HMAC-SHA256");
  if (!credential || !amzDate || !signedHeaders || !signature) {
    return deny("presigned URL lacks X-Amz-Credential, X-Amz-Date, X-Amz-SignedHeaders or X-Amz-Signature");
  }
  if (!expiresText) return deny("presigned URL lacks X-Amz-Expires (the local service requires it)");

  const [accessKeyId, shortDate, region, service, terminator, ...extra] = credential.split("/");
  if (extra.length > 0 || terminator !== "aws4_request") return deny("malformed X-Amz-Credential scope");
  if (accessKeyId !== expected.credentials.accessKeyId) return deny("unknown access key id");
  if (region !== expected.region) return deny(`credential scope region ${region} is not ${expected.region}`);
  if (service !== IOT_DEVICE_GATEWAY_SERVICE)
    return deny(`credential scope service ${service} is not ${IOT_DEVICE_GATEWAY_SERVICE}`);

  const signedAt = parseAmzDate(amzDate);
  if (!signedAt || amzDate.slice(0, 8) !== shortDate)
    return deny("X-Amz-Date malformed or not the scope's date");
  const expiresSec = Number(expiresText);
  if (!Number.isInteger(expiresSec) || expiresSec < 1 || expiresSec > PRESIGN_EXPIRES_SEC_MAX) {
    return deny("X-Amz-Expires out of range");
  }
  const expiresAt = new Date(signedAt.getTime() + expiresSec * 1000);
  if (signedAt.getTime() - SIGV4_CLOCK_SKEW_MS > now.getTime())
    return deny("signature date is in the future");
  if (now.getTime() > expiresAt.getTime()) return deny("presigned URL has expired");

  const token = q.get("X-Amz-Security-Token");
  if (expected.credentials.sessionToken !== undefined && token !== expected.credentials.sessionToken) {
    return deny("X-Amz-Security-Token does not match the local credentials");
  }

  const headers: Record<string, string> = {};
  for (const name of signedHeaders.split(";")) {
    const v = req.headers[name];
    if (v === undefined) return deny(`signed header ${name} missing from the request`);
    headers[name] = Array.isArray(v) ? v.join(",") : v;
  }
  // Everything but the signature and the (unsigned) token goes back into the canonical query.
  const query: Record<string, string> = {};
  for (const [k, v] of q) {
    if (k === "X-Amz-Signature" || k === "X-Amz-Security-Token") continue;
    query[k] = v;
  }
  const signer = new SignatureV4({
    service: IOT_DEVICE_GATEWAY_SERVICE,
    region: expected.region,
    credentials: { accessKeyId, secretAccessKey: expected.credentials.secretAccessKey },
    sha256: Sha256,
  });
  const host = headers.host ?? "";
  const recomputed = await signer.presign(
    { method: "GET", protocol: "https:", hostname: host, path: url.pathname, headers, query },
    { expiresIn: expiresSec, signingDate: signedAt },
  );
  const want = Buffer.from(String(recomputed.query?.["X-Amz-Signature"] ?? ""), "utf8");
  const got = Buffer.from(signature, "utf8");
  if (want.length !== got.length || !timingSafeEqual(want, got)) return deny("signature does not match");
  return { ok: true, accessKeyId, signedAt, expiresAt };
}
