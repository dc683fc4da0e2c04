/**
 * The local AWS IoT's one SigV4 verifier, for both ways a client signs:
 * control-plane requests (an Authorization header: verifySigV4) and the
 * observer's MQTT-over-WebSocket upgrade (a presigned URL:
 * verifyPresignedUpgrade). Both recompute the signature with
 * @smithy/signature-v4 (the SDK's own signer) over what the client said it
 * signed, and share the date parsing, the clock skew and the credentials. A
 * client with wrong credentials, region or service name gets AWS's 403
 * answers instead of silently working locally and failing against AWS.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { Sha256 } from "@aws-crypto/sha256-js";
import { SignatureV4 } from "@smithy/signature-v4";
import {
  IOT_DEVICE_GATEWAY_SERVICE,
  MQTT_WS_PATH,
  PRESIGN_EXPIRES_SEC_MAX,
} from "../cloud/sigv4-mqtt-url.js";
import { ApiError } from "./api-error.js";

/**
 * AWS IoT's control plane accepts both signing names: the API reference
 * gives `execute-api` (what Debian 12's AWS CLI 2.9 signs with), newer SDKs
 * sign with `iot`.
 */
export const IOT_SIGNING_NAMES: readonly string[] = ["iot", "execute-api"];
/** AWS refuses requests signed more than 5 minutes away from its clock (IAM guide, "Signing AWS API requests"). */
export const MAX_CLOCK_SKEW_MS = 5 * 60 * 1000;

export interface LocalCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  /** Presigned URLs: when set, the appended X-Amz-Security-Token must equal it; otherwise any token is accepted. */
  sessionToken?: string;
}

export interface IncomingSignedRequest {
  method: string;
  /** Path exactly as received (still percent-encoded), without the query. */
  rawPath: string;
  query: URLSearchParams;
  headers: Record<string, string | string[] | undefined>;
  body: Uint8Array;
}

const AUTH_RE =
  /^AWS4-HMAC-SHA256\s+Credential=([^/\s,]+)\/(\d{8})\/([^/\s,]+)\/([^/\s,]+)\/aws4_request,\s*SignedHeaders=([a-z0-9;_.-]+),\s*Signature=([0-9a-f]{64})$/;

function headerValue(headers: IncomingSignedRequest["headers"], name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v.join(",") : v;
}

function parseAmzDate(s: string | undefined): Date | undefined {
  const m = s ? /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(s) : null;
  if (!m) return undefined;
  const [y, mo, d, h, mi, sec] = m.slice(1).map(Number) as [number, number, number, number, number, number];
  return new Date(Date.UTC(y, mo - 1, d, h, mi, sec));
}

/** Compares signatures in constant time. */
function sameSignature(expected: string, given: string): boolean {
  const a = Buffer.from(expected, "utf8");
  const b = Buffer.from(given, "utf8");
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * Throws ApiError (403) unless the request carries a valid signature for
 * these credentials, scoped to one of `services` (the first is the one named
 * in the refusal, as AWS names one).
 */
export async function verifySigV4(
  req: IncomingSignedRequest,
  credentials: LocalCredentials,
  region: string,
  services: readonly string[] = IOT_SIGNING_NAMES,
): Promise<void> {
  const auth = headerValue(req.headers, "authorization");
  if (!auth) {
    throw new ApiError("MissingAuthenticationTokenException", "Missing Authentication Token");
  }
  const m = AUTH_RE.exec(auth.trim());
  if (!m) {
    throw new ApiError(
      "InvalidSignatureException",
      "Authorization header is not a valid AWS4-HMAC-SHA256 header (Credential, SignedHeaders, Signature)",
    );
  }
  const [, accessKeyId, scopeDate, scopeRegion, scopeService, signedHeaderList, signature] =
    m as unknown as string[];
  if (accessKeyId !== credentials.accessKeyId) {
    throw new ApiError(
      "UnrecognizedClientException",
      "The security token included in the request is invalid. (The local AWS IoT knows only its own access key; see `provision local-iot`.)",
    );
  }
  if (scopeRegion !== region) {
    throw new ApiError(
      "InvalidSignatureException",
      `Credential should be scoped to a valid region, not '${scopeRegion}'. The local service runs in '${region}'.`,
    );
  }
  if (scopeService === undefined || !services.includes(scopeService)) {
    throw new ApiError(
      "InvalidSignatureException",
      `Credential should be scoped to correct service: '${services[0]}', not '${scopeService}'.`,
    );
  }
  const signingDate = parseAmzDate(headerValue(req.headers, "x-amz-date"));
  if (!signingDate || !scopeDate || !headerValue(req.headers, "x-amz-date")?.startsWith(scopeDate)) {
    throw new ApiError(
      "InvalidSignatureException",
      "X-Amz-Date is missing, malformed or does not match the credential scope date",
    );
  }
  if (Math.abs(Date.now() - signingDate.getTime()) > MAX_CLOCK_SKEW_MS) {
    throw new ApiError(
      "InvalidSignatureException",
      `Signature expired: ${headerValue(req.headers, "x-amz-date")} is more than 5 minutes from the server time ${new Date().toISOString()}`,
    );
  }
  const signedNames = (signedHeaderList ?? "").split(";");
  if (!signedNames.includes("host")) {
    throw new ApiError("InvalidSignatureException", "The host header must be signed");
  }
  const headers: Record<string, string> = {};
  for (const name of signedNames) {
    const v = headerValue(req.headers, name);
    if (v === undefined) {
      throw new ApiError("InvalidSignatureException", `Signed header ${name} is not present in the request`);
    }
    headers[name] = v;
  }
  // The signer takes a present x-amz-content-sha256 as the payload hash without hashing the body:
  // check it against the body here, or a body changed after signing would pass.
  const contentSha256 = headerValue(req.headers, "x-amz-content-sha256");
  if (contentSha256 !== undefined && contentSha256 !== createHash("sha256").update(req.body).digest("hex")) {
    throw new ApiError(
      "InvalidSignatureException",
      "The provided 'x-amz-content-sha256' header does not match what was computed.",
    );
  }
  const query: Record<string, string | string[]> = {};
  for (const key of new Set(req.query.keys())) {
    const all = req.query.getAll(key);
    query[key] = all.length === 1 ? (all[0] as string) : all;
  }
  // applyChecksum false: add no x-amz-content-sha256 the client did not sign (botocore signs none).
  const signer = new SignatureV4({
    credentials,
    region,
    service: scopeService,
    sha256: Sha256,
    applyChecksum: false,
  });
  const host = headers.host ?? "";
  const signed = await signer.sign(
    {
      method: req.method,
      protocol: "http:",
      hostname: host.replace(/:\d+$/, ""),
      path: req.rawPath,
      query,
      headers,
      body: req.body,
    },
    { signingDate, signableHeaders: new Set(signedNames) },
  );
  const expected = /Signature=([0-9a-f]{64})/.exec(String(signed.headers.authorization ?? ""))?.[1] ?? "";
  if (!sameSignature(expected, signature ?? "")) {
    throw new ApiError(
      "InvalidSignatureException",
      "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method.",
    );
  }
}

export type UpgradeVerdict =
  | { ok: true; accessKeyId: string; signedAt: Date; expiresAt: Date }
  | { ok: false; status: 403 | 404; reason: string };

export interface UpgradeRequest {
  url: string;
  headers: Record<string, string | string[] | undefined>;
}

function deny(reason: string): UpgradeVerdict {
  return { ok: false, status: 403, reason };
}

/**
 * Whether the query of a `GET /mqtt` upgrade request is a valid presigned
 * URL for the local service's credentials. Like AWS IoT, the session token
 * is not part of the signature: it is removed before recomputing, so a
 * client that signed it is refused. A URL signed "in the future" passes
 * within the clock skew AWS allows.
 */
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
  if (signedAt.getTime() - MAX_CLOCK_SKEW_MS > now.getTime()) return deny("signature date is in the future");
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
  if (!sameSignature(String(recomputed.query?.["X-Amz-Signature"] ?? ""), signature))
    return deny("signature does not match");
  return { ok: true, accessKeyId, signedAt, expiresAt };
}
