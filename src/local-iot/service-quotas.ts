/**
 * The two Service Quotas calls a station makes at start (ListServiceQuotas,
 * GetServiceQuota for service code `iotcore`), answered from the local
 * service's own configured limits, so a station learns the local limits the
 * way it learns an account's from AWS. Service Quotas speaks awsJson1_1:
 * `POST /` with `X-Amz-Target: ServiceQuotasV20190624.<Operation>`, signed
 * for service `servicequotas`.
 *
 * Listed ("applied") are the operations with a configured limit (`maxRps`);
 * GetServiceQuota answers any known code, with AWS's default where no limit
 * is configured. The certificate and policy operations, which AWS lists only
 * in its throttling guide, are listed here too when limited (under local
 * codes), or a station could not learn them.
 */
import { createHash } from "node:crypto";
import { IOT_RATE_QUOTAS, IOT_SERVICE_QUOTAS_CODE, quotaNameOf } from "../cloud/iot-quotas.js";
import { ApiError } from "./api-error.js";

export const SERVICE_QUOTAS_SIGNING_NAME = "servicequotas";
const TARGET_PREFIX = "ServiceQuotasV20190624.";
const OPERATIONS = new Set(["ListServiceQuotas", "GetServiceQuota"]);

export interface LocalQuotaSource {
  region: string;
  accountId: string;
  /** Every operation the local service serves. */
  operations: readonly string[];
  /** The configured limit of an operation (requests/s), if any. */
  limitFor(operation: string): number | undefined;
}

/** The Service Quotas operation a request asks for, or undefined when it is not a Service Quotas request. */
export function serviceQuotasOperationOf(
  method: string,
  rawPath: string,
  headers: Record<string, string | string[] | undefined>,
): string | undefined {
  const target = headers["x-amz-target"];
  if (method !== "POST" || rawPath !== "/" || typeof target !== "string") return undefined;
  if (!target.startsWith(TARGET_PREFIX)) return undefined;
  const operation = target.slice(TARGET_PREFIX.length);
  if (!OPERATIONS.has(operation)) {
    throw new ApiError("UnknownOperationException", `The local Service Quotas does not serve ${operation}`);
  }
  return operation;
}

/** AWS's code where Service Quotas has one; a stable local one (L-LC + 6 hex) otherwise. */
function quotaCodeOf(operation: string): string {
  const known = IOT_RATE_QUOTAS.find((q) => q.operation === operation)?.quotaCode;
  if (known) return known;
  return `L-LC${createHash("sha256").update(operation).digest("hex").slice(0, 6).toUpperCase()}`;
}

function quotaObject(operation: string, value: number, source: LocalQuotaSource): Record<string, unknown> {
  const code = quotaCodeOf(operation);
  return {
    ServiceCode: IOT_SERVICE_QUOTAS_CODE,
    ServiceName: "AWS IoT",
    QuotaArn: `arn:aws:servicequotas:${source.region}:${source.accountId}:${IOT_SERVICE_QUOTAS_CODE}/${code}`,
    QuotaCode: code,
    QuotaName: quotaNameOf(operation),
    Value: value,
    Unit: "None",
    Adjustable: true,
    GlobalQuota: false,
  };
}

function requireIotCore(body: Record<string, unknown>): void {
  if (body.ServiceCode !== IOT_SERVICE_QUOTAS_CODE) {
    throw new ApiError(
      "NoSuchResourceException",
      `The local Service Quotas knows only service code ${IOT_SERVICE_QUOTAS_CODE}, not ${JSON.stringify(body.ServiceCode)}`,
    );
  }
}

export function answerServiceQuotas(
  operation: string,
  body: Record<string, unknown>,
  source: LocalQuotaSource,
): Record<string, unknown> {
  requireIotCore(body);
  const candidates = [...new Set([...IOT_RATE_QUOTAS.map((q) => q.operation), ...source.operations])];
  if (operation === "GetServiceQuota") {
    const op = candidates.find((o) => quotaCodeOf(o) === body.QuotaCode);
    const value =
      op === undefined
        ? undefined
        : (source.limitFor(op) ?? IOT_RATE_QUOTAS.find((q) => q.operation === op)?.tps);
    if (op === undefined || value === undefined) {
      throw new ApiError("NoSuchResourceException", `No quota ${JSON.stringify(body.QuotaCode)} for iotcore`);
    }
    return { Quota: quotaObject(op, value, source) };
  }
  const listed = candidates.flatMap((op) => {
    const limit = source.limitFor(op);
    return limit === undefined ? [] : [quotaObject(op, limit, source)];
  });
  const pageSize = typeof body.MaxResults === "number" && body.MaxResults > 0 ? body.MaxResults : 100;
  const start = typeof body.NextToken === "string" ? Number(body.NextToken) : 0;
  if (!Number.isInteger(start) || start < 0)
    throw new ApiError("IllegalArgumentException", "Invalid NextToken");
  const page = listed.slice(start, start + pageSize);
  return start + pageSize < listed.length
    ? { Quotas: page, NextToken: String(start + pageSize) }
    : { Quotas: page };
}
