/**
 * AWS IoT Core's per-account API rate quotas (requests per second), as a
 * fact table shared by the station (which stays under them) and the local
 * AWS IoT (which reports and enforces them). Service Quotas (service code
 * `iotcore`) lists the registry operations under codes and names
 * "<Operation> API TPS"; the certificate and policy operations appear only in
 * the AWS IoT throttling guide, so they have no code here.
 */
export const IOT_SERVICE_QUOTAS_CODE = "iotcore";

export interface IotRateQuota {
  operation: string;
  /** AWS's default, requests per second. */
  tps: number;
  /** Service Quotas code, for the operations Service Quotas lists. */
  quotaCode?: string;
}

export const IOT_RATE_QUOTAS: readonly IotRateQuota[] = [
  { operation: "DescribeThing", tps: 350, quotaCode: "L-0EF0F5EE" },
  { operation: "CreateThing", tps: 100, quotaCode: "L-64CBACAC" },
  { operation: "UpdateThing", tps: 100, quotaCode: "L-211F680E" },
  { operation: "DeleteThing", tps: 100, quotaCode: "L-889800F7" },
  { operation: "AttachThingPrincipal", tps: 100, quotaCode: "L-F64D1AA6" },
  { operation: "DetachThingPrincipal", tps: 100, quotaCode: "L-B5EE4A16" },
  { operation: "ListThingPrincipals", tps: 10, quotaCode: "L-FC3EF4D9" },
  { operation: "ListPrincipalThings", tps: 10, quotaCode: "L-C481616A" },
  { operation: "ListThings", tps: 10, quotaCode: "L-57AAC135" },
  { operation: "CreateCertificateFromCsr", tps: 15 },
  { operation: "AttachPolicy", tps: 15 },
  { operation: "UpdateCertificate", tps: 10 },
  { operation: "DeleteCertificate", tps: 10 },
  { operation: "RegisterThing", tps: 10 },
];

/**
 * For operations AWS publishes no figure for (GetPolicy, DescribeCertificate,
 * ListCertificates, Detach/ListAttachedPolicies, DescribeEndpoint): the
 * lowest published one. The tool calls them once per process or only on
 * rollback, so a low guess costs nothing.
 */
export const IOT_RATE_UNLISTED_TPS = 10;

/**
 * Every AWS IoT operation the tool calls (src/registry/aws-registry.ts), each
 * with its own rate limiter: what `--quota OP=N` may name, with the table's.
 */
export const IOT_OPERATIONS_CALLED: readonly string[] = [
  "AttachPolicy",
  "AttachThingPrincipal",
  "CreateCertificateFromCsr",
  "CreatePolicy",
  "CreateThing",
  "DeleteCertificate",
  "DeleteThing",
  "DescribeCertificate",
  "DescribeEndpoint",
  "DescribeThing",
  "DetachPolicy",
  "DetachThingPrincipal",
  "GetPolicy",
  "ListAttachedPolicies",
  "ListCertificates",
  "ListPrincipalThings",
  "ListThingPrincipals",
  "ListThingPrincipalsV2",
  "ListThings",
  "UpdateCertificate",
];

/** The operations a quota can be given for: the table's and the ones the tool calls. */
export const IOT_QUOTA_OPERATIONS: readonly string[] = [
  ...new Set([...IOT_RATE_QUOTAS.map((q) => q.operation), ...IOT_OPERATIONS_CALLED]),
].sort();

/** The default quota of every listed operation. */
export const IOT_API_TPS_DEFAULT: Readonly<Record<string, number>> = Object.fromEntries(
  IOT_RATE_QUOTAS.map((q) => [q.operation, q.tps]),
);

const QUOTA_NAME_SUFFIX = " API TPS";

/** "DescribeThing" -> "DescribeThing API TPS", Service Quotas' naming. */
export function quotaNameOf(operation: string): string {
  return `${operation}${QUOTA_NAME_SUFFIX}`;
}

/** The operation a Service Quotas entry limits, by code first, then by name; undefined for other quotas. */
export function operationOfQuota(quota: { QuotaCode?: string; QuotaName?: string }): string | undefined {
  const byCode = IOT_RATE_QUOTAS.find((q) => q.quotaCode !== undefined && q.quotaCode === quota.QuotaCode);
  if (byCode) return byCode.operation;
  const m = /^([A-Z][A-Za-z]+) API TPS$/.exec(quota.QuotaName ?? "");
  return m?.[1];
}
