/**
 * From quotas to the rates a station sends at: the account's quotas (read
 * from Service Quotas, or AWS's defaults), the operator's `--quota OP=N`
 * over them, then each times the share the station sends at (`--headroom`).
 * Also names the binding
 * operation, so the operator sees what caps the station before it starts.
 */
import { IOT_QUOTA_OPERATIONS } from "../cloud/iot-quotas.js";
import { ProvisionError } from "../errors.js";
import { QUOTA_SHARE_DEFAULT } from "../registry/pacer.js";
import type { QuotaReading } from "../registry/service-quotas.js";

/** `--headroom PCT`: the station sends at (100 - PCT)% of each quota. */
export const HEADROOM_PERCENT_RANGE = { min: 1, max: 50 } as const;

/** The share of each quota for `--headroom PCT` (default 10); out of range is a USAGE error naming the flag. */
export function quotaShareFromHeadroom(percent: number | undefined): number {
  if (percent === undefined) return QUOTA_SHARE_DEFAULT;
  const { min, max } = HEADROOM_PERCENT_RANGE;
  if (!(Number.isFinite(percent) && percent >= min && percent <= max)) {
    throw new ProvisionError(
      "USAGE",
      `--headroom ${percent}: expected a percentage from ${min} to ${max} (how far under each quota the station stays; default 10)`,
    );
  }
  return 1 - percent / 100;
}

/** The calls every new device costs, once each (src/ledger/register.ts). */
export const PER_DEVICE_OPERATIONS = [
  "CreateCertificateFromCsr",
  "DescribeThing",
  "CreateThing",
  "AttachPolicy",
  "AttachThingPrincipal",
] as const;

export interface RatePlan {
  /** The quota per operation (requests/s) and where it came from. */
  quotas: Record<string, { tps: number; from: "account" | "default" | "--quota" }>;
  /** What the station's limiters run at: each quota times share. */
  rates: Record<string, number>;
  share: number;
  /** The per-device operation with the lowest rate: it caps the station at 60 * rate devices/min. */
  binding: { operation: string; tps: number; devicesPerMin: number };
  fallbackReason?: string;
}

/**
 * `--quota OP=N` pairs; a malformed one, or one naming no operation the tool
 * knows (a typo, another case: a quota silently ignored would let the
 * station run over the real one), is a USAGE error naming it.
 */
export function parseQuotaOverrides(pairs: readonly string[] | undefined): Record<string, number> {
  const out: Record<string, number> = {};
  for (const pair of pairs ?? []) {
    const m = /^([A-Za-z0-9]+)=(\d+(\.\d+)?)$/.exec(pair);
    const tps = m ? Number(m[2]) : Number.NaN;
    if (!m || !(tps > 0)) {
      throw new ProvisionError(
        "USAGE",
        `--quota ${pair}: expected Operation=TPS, e.g. CreateCertificateFromCsr=50`,
      );
    }
    const op = m[1] as string;
    if (!IOT_QUOTA_OPERATIONS.includes(op)) {
      const sameLetters = IOT_QUOTA_OPERATIONS.find((k) => k.toLowerCase() === op.toLowerCase());
      throw new ProvisionError(
        "USAGE",
        `--quota ${pair}: ${op} is not an AWS IoT operation this tool calls${sameLetters ? `; did you mean ${sameLetters}?` : ""}`,
        {
          hint: sameLetters
            ? `operation names are case-sensitive: --quota ${sameLetters}=${m[2]}`
            : `one of: ${IOT_QUOTA_OPERATIONS.join(", ")}`,
        },
      );
    }
    out[op] = tps;
  }
  return out;
}

export function planRates(
  reading: QuotaReading,
  overrides: Record<string, number> = {},
  share: number = QUOTA_SHARE_DEFAULT,
): RatePlan {
  const quotas: RatePlan["quotas"] = {};
  for (const [op, tps] of Object.entries(reading.tps)) {
    quotas[op] = { tps, from: reading.fromAccount.includes(op) ? "account" : "default" };
  }
  for (const [op, tps] of Object.entries(overrides)) quotas[op] = { tps, from: "--quota" };
  const rates = Object.fromEntries(Object.entries(quotas).map(([op, q]) => [op, q.tps * share]));
  const [operation, tps] = PER_DEVICE_OPERATIONS.map(
    (op) => [op, rates[op] ?? Number.POSITIVE_INFINITY] as const,
  )
    .sort((a, b) => a[1] - b[1])
    .at(0) as readonly [string, number];
  const plan: RatePlan = {
    quotas,
    rates,
    share,
    binding: { operation, tps, devicesPerMin: Math.floor(60 * tps) },
  };
  if (reading.fallbackReason !== undefined) plan.fallbackReason = reading.fallbackReason;
  return plan;
}

/** One line for the operator: where the quotas came from and what binds. */
export function describeRatePlan(plan: RatePlan): string {
  const perDevice = PER_DEVICE_OPERATIONS.map((op) => {
    const q = plan.quotas[op];
    return `${op} ${q?.tps ?? "?"}${q && q.from !== "account" ? ` (${q.from})` : ""}`;
  }).join(", ");
  const source =
    plan.fallbackReason === undefined
      ? "quotas from Service Quotas (iotcore)"
      : `quotas: AWS's defaults where unread (${plan.fallbackReason}; allow servicequotas:ListServiceQuotas and servicequotas:GetServiceQuota, or pass --quota OP=N)`;
  return (
    `${source}: ${perDevice} requests/s; the station sends at ${Number((plan.share * 100).toFixed(2))}% of each; ` +
    `${plan.binding.operation} binds: at most ${plan.binding.devicesPerMin} devices/min`
  );
}
