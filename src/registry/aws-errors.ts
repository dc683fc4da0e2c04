/**
 * SDK errors -> ProvisionError codes. The SDK has already retried what it
 * retries (throttling, 5xx, network) by the time an error reaches here, so a
 * throttling error here means "after retries".
 */
import { ProvisionError } from "../errors.js";

const NETWORK_CODES = new Set([
  "ECONNREFUSED",
  "ENOTFOUND",
  "EAI_AGAIN",
  "ECONNRESET",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EPIPE",
]);
const NETWORK_NAMES = new Set(["TimeoutError", "RequestTimeout", "NetworkingError"]);
const THROTTLING_NAMES = new Set([
  "ThrottlingException",
  "LimitExceededException",
  "TooManyRequestsException",
  "RequestLimitExceeded",
  "ServiceQuotaExceededException",
]);
const ACCESS_NAMES = new Set([
  "UnauthorizedException",
  "AccessDeniedException",
  "AccessDenied",
  "ForbiddenException",
]);
// The caller's credentials exist but are not valid (expired session, wrong keys).
const BAD_CREDENTIAL_NAMES = new Set([
  "ExpiredTokenException",
  "ExpiredToken",
  "InvalidClientTokenId",
  "UnrecognizedClientException",
  "InvalidSignatureException",
  "SignatureDoesNotMatch",
]);

export interface AwsCallContext {
  /** API operation, e.g. "CreateCertificateFromCsr". */
  operation: string;
  /** Control-plane endpoint, for messages. */
  endpoint: string;
  /** The resource the call was about (thing name, certificate id). */
  resource?: string;
}

interface SdkErrorLike {
  name?: string;
  code?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number; requestId?: string; attempts?: number };
  cause?: unknown;
}

function networkCode(e: SdkErrorLike, depth = 0): string | undefined {
  if (depth > 4 || e === null || typeof e !== "object") return undefined;
  if (e.code !== undefined && NETWORK_CODES.has(e.code)) return e.code;
  if (e.name !== undefined && NETWORK_NAMES.has(e.name)) return e.name;
  if (Array.isArray((e as { errors?: unknown[] }).errors)) {
    // AggregateError from happy-eyeballs connects.
    for (const inner of (e as { errors: SdkErrorLike[] }).errors) {
      const c = networkCode(inner, depth + 1);
      if (c !== undefined) return c;
    }
  }
  return e.cause !== undefined ? networkCode(e.cause as SdkErrorLike, depth + 1) : undefined;
}

/** The service's error name when it answered, else undefined. */
export function awsErrorName(e: unknown): string | undefined {
  const err = e as SdkErrorLike;
  return err?.$metadata?.httpStatusCode !== undefined ? err.name : undefined;
}

/** Refusals for rate, which clear by themselves (LimitExceededException is a resource quota: it does not). */
const RATE_REFUSAL_NAMES = new Set([
  "ThrottlingException",
  "TooManyRequestsException",
  "RequestLimitExceeded",
]);

export function isThrottlingError(e: unknown): boolean {
  return RATE_REFUSAL_NAMES.has(awsErrorName(e) ?? "");
}

/** True for errors where the request may have been processed although no answer came back. */
export function isUnclearOutcome(e: unknown): boolean {
  // The tool's own refusal of a successful answer (e.g. one without its result) says so in its details.
  if (e instanceof ProvisionError) {
    return e.details.unclearOutcome === true || (e.cause !== undefined && isUnclearOutcome(e.cause));
  }
  const err = e as SdkErrorLike;
  const status = err?.$metadata?.httpStatusCode;
  // 2xx: the service did it, but the answer could not be read (the SDK's deserialization error).
  if (status !== undefined && (status >= 500 || (status >= 200 && status < 300))) return true;
  // The SDK retried: an earlier attempt may have been a lost answer although the last one was refused.
  if ((err?.$metadata?.attempts ?? 1) > 1) return true;
  const code = networkCode(err);
  // A refused or unresolvable connection never reached the service.
  return code !== undefined && code !== "ECONNREFUSED" && code !== "ENOTFOUND" && code !== "EAI_AGAIN";
}

export function mapAwsError(e: unknown, ctx: AwsCallContext): ProvisionError {
  if (e instanceof ProvisionError) return e;
  const err = (e ?? {}) as SdkErrorLike;
  const name = err.name ?? "Error";
  const detail = err.message ?? String(e);
  const where = ctx.resource ? `${ctx.operation} ${ctx.resource}` : ctx.operation;
  const details: Record<string, unknown> = { operation: ctx.operation, awsError: name };
  if (err.$metadata?.requestId) details.requestId = err.$metadata.requestId;
  if (err.$metadata?.attempts !== undefined) details.attempts = err.$metadata.attempts;
  const base = { where, cause: e, details };

  if (name === "CredentialsProviderError" || /Could not load credentials/i.test(detail)) {
    return new ProvisionError(
      "CLOUD_NO_CREDENTIALS",
      `no AWS credentials found for ${ctx.operation}: ${detail}`,
      {
        ...base,
        hint: "run `aws configure` (or `aws sso login`), or set AWS_PROFILE to a configured profile; to try the tool without an account, add --local (or run `npm run demo`)",
      },
    );
  }
  if (BAD_CREDENTIAL_NAMES.has(name)) {
    return new ProvisionError(
      "CLOUD_NO_CREDENTIALS",
      `AWS refused the credentials for ${ctx.operation}: ${name}: ${detail}`,
      {
        ...base,
        hint: "refresh the credentials (`aws sso login`, new session token) or pick another AWS_PROFILE",
      },
    );
  }
  if (/Region is missing/i.test(detail)) {
    return new ProvisionError("CONFIG", `no AWS region configured for ${ctx.operation}`, {
      ...base,
      hint: "pass --region, set AWS_REGION, or set region in the AWS profile",
    });
  }
  if (THROTTLING_NAMES.has(name)) {
    const attempts = err.$metadata?.attempts;
    return new ProvisionError(
      "CLOUD_THROTTLED",
      `AWS IoT throttled ${ctx.operation} (${name})${attempts ? ` after ${attempts} attempts` : ""}: ${detail}`,
      {
        ...base,
        hint:
          name === "LimitExceededException" || name === "ServiceQuotaExceededException"
            ? "an account quota is reached and does not clear by itself: check Service Quotas (iotcore) or delete unused resources"
            : "lower the station's rate (fewer ports at once) or raise maxAttempts; see docs/aws.md for the API rates",
      },
    );
  }
  if (ACCESS_NAMES.has(name) || err.$metadata?.httpStatusCode === 403) {
    return new ProvisionError(
      "CLOUD_ACCESS_DENIED",
      `AWS denied ${ctx.operation}: the caller needs IAM permission iot:${ctx.operation} (${detail})`,
      {
        ...base,
        hint: `allow the action iot:${ctx.operation} for this identity; docs/aws.md lists the minimal policy`,
      },
    );
  }
  const net = networkCode(err);
  if (net !== undefined && err.$metadata?.httpStatusCode === undefined) {
    return new ProvisionError(
      "CLOUD_UNREACHABLE",
      `cannot reach AWS IoT at ${ctx.endpoint} for ${ctx.operation}: ${net}`,
      {
        ...base,
        details: { ...details, endpoint: ctx.endpoint, networkError: net },
        hint: "check the network, the region, and AWS_ENDPOINT_URL_IOT / --endpoint-url if set",
      },
    );
  }
  const status = err.$metadata?.httpStatusCode;
  return new ProvisionError(
    "CLOUD_FAILED",
    `AWS IoT ${ctx.operation} failed: ${name}${status ? ` (HTTP ${status})` : ""}: ${detail}`,
    { ...base, details: { ...details, httpStatusCode: status } },
  );
}
