/**
 * Verifies AWS Signature Version 4 on control-plane requests by recomputing
 * the signature with @smithy/signature-v4 (the SDK's own signer) over the
 * headers the client said it signed. A client with wrong credentials, region
 * or service name gets AWS's 403 errors instead of silently working locally
 * and failing against AWS.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { Sha256 } from "@aws-crypto/sha256-js";
import { SignatureV4 } from "@smithy/signature-v4";
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
  const a = Buffer.from(expected);
  const b = Buffer.from(signature ?? "");
  if (a.length !== b.length || !timingSafeEqual(a, b)) {
    throw new ApiError(
      "InvalidSignatureException",
      "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method.",
    );
  }
}
