/**
 * The SDK calls of the AWS registry: its two clients (one without SDK
 * retries for CreateCertificateFromCsr), each call through the rate limiter
 * with its errors mapped to ProvisionError, "not found" as an answer, and
 * paginated lists collected.
 */
import type { IoTClient } from "@aws-sdk/client-iot";
import debugFactory from "debug";
import { ProvisionError } from "../errors.js";
import {
  type AwsRegistryOptions,
  envInt,
  limitClient,
  MAX_ATTEMPTS_DEFAULT,
  RETRY_MODE_DEFAULT,
} from "./aws-client.js";
import { mapAwsError } from "./aws-errors.js";
import { OperationRateLimiter } from "./rate-limits.js";

const debug = debugFactory("provision:registry");

export class AwsIotCalls {
  readonly client: IoTClient;
  /**
   * CreateCertificateFromCsr goes through its own client without SDK retries:
   * the SDK would retry a 5xx or a lost answer, and a retried CSR issues a
   * second certificate (AWS IoT Developer Guide). Only throttling, which AWS answers
   * before doing anything, is retried, here.
   */
  readonly certificateClient: IoTClient;
  readonly region: string;
  readonly endpointDescription: string;
  readonly maxAttempts: number;
  readonly retryMode: string;
  protected readonly limiter: OperationRateLimiter | undefined;
  /** Whether close() stops the limiter (false when the caller shares it). */
  protected readonly ownsLimiter: boolean;

  constructor(
    client: IoTClient,
    certificateClient: IoTClient,
    region: string,
    endpointDescription: string,
    options: AwsRegistryOptions,
  ) {
    this.client = client;
    this.certificateClient = certificateClient;
    this.region = region;
    this.endpointDescription = endpointDescription;
    this.maxAttempts = options.maxAttempts ?? envInt("AWS_MAX_ATTEMPTS") ?? MAX_ATTEMPTS_DEFAULT;
    this.retryMode = options.retryMode ?? process.env.AWS_RETRY_MODE ?? RETRY_MODE_DEFAULT;
    const rateLimit = options.rateLimit;
    this.ownsLimiter = !(rateLimit instanceof OperationRateLimiter);
    this.limiter =
      rateLimit === undefined || rateLimit === false
        ? undefined
        : rateLimit instanceof OperationRateLimiter
          ? rateLimit
          : new OperationRateLimiter({ tps: rateLimit === true ? {} : rateLimit });
    if (this.limiter) {
      limitClient(client, this.limiter);
      limitClient(certificateClient, this.limiter);
    }
  }

  /** Runs one API call through the rate limiter and maps its errors. */
  protected async call<T>(operation: string, resource: string | undefined, fn: () => Promise<T>): Promise<T> {
    const run = async () => {
      const started = Date.now();
      try {
        const out = await fn();
        debug("%s %s ok in %d ms", operation, resource ?? "", Date.now() - started);
        return out;
      } catch (e) {
        debug(
          "%s %s failed in %d ms: %s",
          operation,
          resource ?? "",
          Date.now() - started,
          (e as Error).name,
        );
        throw e;
      }
    };
    try {
      // The SDK middleware takes the turn; run() answers throttling.
      return await (this.limiter ? this.limiter.run(operation, run) : run());
    } catch (e) {
      throw this.mapError(e, operation, resource);
    }
  }

  protected mapError(e: unknown, operation: string, resource?: string): ProvisionError {
    return mapAwsError(e, { operation, endpoint: this.endpointDescription, resource });
  }

  /** Like call(), but a ResourceNotFoundException is the answer `undefined`. */
  protected async callOrNotFound<T>(
    operation: string,
    resource: string,
    fn: () => Promise<T>,
  ): Promise<T | undefined> {
    try {
      return await this.call(operation, resource, fn);
    } catch (e) {
      if (e instanceof ProvisionError && e.details.awsError === "ResourceNotFoundException") return undefined;
      throw e;
    }
  }

  /** Every item of a paginated list; a resource that is gone lists nothing. */
  protected async collect<P, T = string>(
    operation: string,
    resource: string,
    fetch: (token: string | undefined) => Promise<P>,
    page: (p: P) => { items: T[]; next: string | undefined },
  ): Promise<T[]> {
    const out: T[] = [];
    let token: string | undefined;
    do {
      const answer = await this.callOrNotFound(operation, resource, () => fetch(token));
      if (answer === undefined) return out;
      const { items, next } = page(answer);
      out.push(...items);
      token = next;
    } while (token);
    return out;
  }
}
