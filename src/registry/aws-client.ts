/**
 * The SDK client as the AWS registry configures it: options, retry
 * settings, and the rate limiter's place in the middleware.
 */
import type { IoTClient, IoTClientConfig } from "@aws-sdk/client-iot";
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider, RetryStrategyV2 } from "@smithy/types";
import type { OperationRateLimiter, RateLimits } from "./rate-limits.js";
import type { WaitOptions } from "./registry.js";

export const MAX_ATTEMPTS_DEFAULT = 3;
export const RETRY_MODE_DEFAULT = "standard";

export interface AwsRegistryOptions {
  /** Else AWS_REGION / the profile's region. */
  region?: string;
  /** A named profile from ~/.aws/config; else AWS_PROFILE or default. */
  profile?: string;
  /** Control-plane endpoint override; else AWS_ENDPOINT_URL_IOT / AWS_ENDPOINT_URL as the SDK reads them. */
  endpoint?: string;
  /** Else the standard Node provider chain (env, SSO, profile files, IMDS...). */
  credentials?: AwsCredentialIdentity | AwsCredentialIdentityProvider;
  /** SDK attempts including the first; default AWS_MAX_ATTEMPTS or 3. */
  maxAttempts?: number;
  /** "standard" or "adaptive"; default AWS_RETRY_MODE or standard. */
  retryMode?: "standard" | "adaptive";
  /**
   * Client-side rate limits: true, the published quotas; an object, per-operation
   * TPS over them; a limiter, shared with its owner (who stops it); default none.
   * With limits, throttling is retried by the limiter, not by the SDK.
   */
  rateLimit?: boolean | RateLimits | OperationRateLimiter;
  /** Polling after DetachThingPrincipal. */
  detachWait?: WaitOptions;
  /** Test seam: an SDK request handler (e.g. one that records requests). */
  requestHandler?: IoTClientConfig["requestHandler"];
}

export function envInt(name: string): number | undefined {
  const v = process.env[name];
  return v !== undefined && /^\d+$/.test(v) ? Number(v) : undefined;
}

/**
 * The SDK's retries minus throttling: with a rate limiter, a throttled call
 * goes back into the limiter's queue for its operation (which slows down for
 * everybody), instead of sleeping on a timer of its own.
 */
class RetriesExceptThrottling implements RetryStrategyV2 {
  constructor(private readonly inner: RetryStrategyV2) {}
  acquireInitialRetryToken(scope: string) {
    return this.inner.acquireInitialRetryToken(scope);
  }
  refreshRetryTokenForRetry(...args: Parameters<RetryStrategyV2["refreshRetryTokenForRetry"]>) {
    if (args[1].errorType === "THROTTLING") throw new Error("throttling is retried by the rate limiter");
    return this.inner.refreshRetryTokenForRetry(...args);
  }
  recordSuccess(token: Parameters<RetryStrategyV2["recordSuccess"]>[0]) {
    this.inner.recordSuccess(token);
  }
}

/**
 * Puts a client under the limiter: throttling is left to it, and each
 * attempt takes its operation's turn in the innermost middleware, right
 * before the request is written (after signing and endpoint resolution,
 * which on a busy machine could otherwise let turns and writes drift apart).
 */
export function limitClient(client: IoTClient, limiter: OperationRateLimiter): void {
  const standard = client.config.retryStrategy;
  client.config.retryStrategy = async () =>
    new RetriesExceptThrottling((await standard()) as RetryStrategyV2);
  client.middlewareStack.add(
    (next, context) => async (args) => {
      await limiter.turn(String(context.commandName ?? "").replace(/Command$/, ""));
      return next(args);
    },
    { step: "deserialize", priority: "low", name: "provisionRateTurn" },
  );
}
