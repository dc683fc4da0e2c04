/**
 * The account's applied AWS IoT rate quotas, read from Service Quotas at
 * station start, so a station uses what the account was granted instead of
 * the defaults (accounts that produce at scale raise them). Reading is
 * best-effort: a caller without servicequotas permissions, or a region or
 * endpoint without Service Quotas, gets AWS's defaults and a sentence
 * saying why, never a failed station.
 *
 * ListServiceQuotas lists only quotas whose applied value is known; the
 * operations it leaves out are asked one by one (GetServiceQuota).
 */
import {
  GetServiceQuotaCommand,
  ListServiceQuotasCommand,
  type ServiceQuota,
  ServiceQuotasClient,
  type ServiceQuotasClientConfig,
} from "@aws-sdk/client-service-quotas";
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from "@smithy/types";
import {
  IOT_API_TPS_DEFAULT,
  IOT_RATE_QUOTAS,
  IOT_SERVICE_QUOTAS_CODE,
  operationOfQuota,
} from "../cloud/iot-quotas.js";

/** Start-up must not hang on an endpoint that does not answer. */
export const QUOTA_READ_TIMEOUT_MS = 5_000;
const MAX_PAGES = 20;

export interface QuotaReading {
  /** Requests/s per operation: the account's value where Service Quotas gave one, else AWS's default. */
  tps: Record<string, number>;
  /** Operations whose value came from the account. */
  fromAccount: string[];
  /** Set when Service Quotas could not be read (or only in part): why, for the operator. */
  fallbackReason?: string;
}

export interface ReadQuotasOptions {
  region: string;
  credentials?: AwsCredentialIdentity | AwsCredentialIdentityProvider;
  profile?: string;
  /** Service Quotas endpoint override (the local AWS IoT serves it on its control plane). */
  endpoint?: string;
}

function describeError(e: unknown): string {
  const err = e as { name?: string; message?: string };
  return `${err?.name ?? "Error"}: ${err?.message ?? String(e)}`;
}

function positiveValue(q: ServiceQuota): number | undefined {
  return typeof q.Value === "number" && q.Value > 0 ? q.Value : undefined;
}

export async function readIotQuotas(options: ReadQuotasOptions): Promise<QuotaReading> {
  const config: ServiceQuotasClientConfig = {
    region: options.region,
    maxAttempts: 2,
    requestHandler: { requestTimeout: QUOTA_READ_TIMEOUT_MS, connectionTimeout: QUOTA_READ_TIMEOUT_MS },
  };
  if (options.credentials !== undefined) config.credentials = options.credentials;
  if (options.profile !== undefined) config.profile = options.profile;
  if (options.endpoint !== undefined) config.endpoint = options.endpoint;
  const client = new ServiceQuotasClient(config);
  const tps: Record<string, number> = { ...IOT_API_TPS_DEFAULT };
  const fromAccount = new Set<string>();
  const take = (q: ServiceQuota | undefined) => {
    const operation = q ? operationOfQuota(q) : undefined;
    const value = q ? positiveValue(q) : undefined;
    if (operation === undefined || value === undefined) return;
    tps[operation] = value;
    fromAccount.add(operation);
  };
  try {
    let nextToken: string | undefined;
    let pages = 0;
    do {
      const page = await client.send(
        new ListServiceQuotasCommand({ ServiceCode: IOT_SERVICE_QUOTAS_CODE, NextToken: nextToken }),
      );
      for (const q of page.Quotas ?? []) take(q);
      nextToken = page.NextToken;
    } while (nextToken && ++pages < MAX_PAGES);
  } catch (e) {
    client.destroy();
    return {
      tps,
      fromAccount: [],
      fallbackReason: `Service Quotas (${IOT_SERVICE_QUOTAS_CODE}) could not be read: ${describeError(e)}`,
    };
  }
  const unlisted = IOT_RATE_QUOTAS.filter((q) => q.quotaCode !== undefined && !fromAccount.has(q.operation));
  const failures: string[] = [];
  await Promise.all(
    unlisted.map(async (q) => {
      try {
        const out = await client.send(
          new GetServiceQuotaCommand({ ServiceCode: IOT_SERVICE_QUOTAS_CODE, QuotaCode: q.quotaCode }),
        );
        take(out.Quota);
      } catch (e) {
        // NoSuchResourceException: no applied value, the default stands.
        if ((e as { name?: string }).name !== "NoSuchResourceException")
          failures.push(`${q.operation}: ${describeError(e)}`);
      }
    }),
  );
  client.destroy();
  const reading: QuotaReading = { tps, fromAccount: [...fromAccount].sort() };
  if (failures.length > 0) reading.fallbackReason = `GetServiceQuota failed for ${failures.join("; ")}`;
  return reading;
}
