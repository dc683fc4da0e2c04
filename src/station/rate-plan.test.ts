import { describe, expect, it } from "vitest";
import { IOT_API_TPS_DEFAULT } from "../cloud/iot-quotas.js";
import { QUOTA_SHARE_DEFAULT } from "../registry/pacer.js";
import {
  describeRatePlan,
  PER_DEVICE_OPERATIONS,
  parseQuotaOverrides,
  planRates,
  quotaShareFromHeadroom,
} from "./rate-plan.js";

const defaults = { tps: { ...IOT_API_TPS_DEFAULT }, fromAccount: [] };

describe("rate plan", () => {
  it("with AWS's defaults only the 15/s certificate and policy calls bind; DescribeThing no longer does", () => {
    const plan = planRates(defaults);
    expect(plan.binding.operation).toBe("CreateCertificateFromCsr");
    expect(plan.binding.devicesPerMin).toBe(Math.floor(60 * 15 * QUOTA_SHARE_DEFAULT));
    const others = PER_DEVICE_OPERATIONS.filter(
      (op) => op !== "CreateCertificateFromCsr" && op !== "AttachPolicy",
    );
    // Every other per-device call has at least 6x the room of the binding one.
    for (const op of others) expect(plan.rates[op], op).toBeGreaterThanOrEqual(6 * plan.binding.tps);
    expect(plan.quotas.DescribeThing).toEqual({ tps: 350, from: "default" });
  });

  it("account values win over defaults, --quota over both; the binding operation follows", () => {
    const plan = planRates(
      {
        tps: { ...IOT_API_TPS_DEFAULT, CreateCertificateFromCsr: 60, AttachPolicy: 60 },
        fromAccount: ["CreateCertificateFromCsr", "AttachPolicy"],
      },
      parseQuotaOverrides(["AttachThingPrincipal=20"]),
    );
    expect(plan.quotas.CreateCertificateFromCsr).toEqual({ tps: 60, from: "account" });
    expect(plan.quotas.AttachThingPrincipal).toEqual({ tps: 20, from: "--quota" });
    expect(plan.binding).toEqual({ operation: "AttachThingPrincipal", tps: 18, devicesPerMin: 1080 });
    expect(describeRatePlan(plan)).toMatch(
      /AttachThingPrincipal 20 \(--quota\).*AttachThingPrincipal binds: at most 1080 devices\/min/,
    );
  });

  it("says when it fell back to the defaults, and why", () => {
    const plan = planRates({
      ...defaults,
      fallbackReason: "Service Quotas (iotcore) could not be read: AccessDeniedException: no",
    });
    expect(describeRatePlan(plan)).toMatch(
      /AWS's defaults .*AccessDeniedException.*servicequotas:ListServiceQuotas/,
    );
  });

  it("refuses malformed --quota values naming them", () => {
    expect(() => parseQuotaOverrides(["CreateThing=fast"])).toThrow(/--quota CreateThing=fast/);
    expect(() => parseQuotaOverrides(["CreateThing=0"])).toThrow(/expected Operation=TPS/);
    expect(parseQuotaOverrides(["DescribeThing=12.5"])).toEqual({ DescribeThing: 12.5 });
  });

  it("refuses an operation it does not know (a quota silently ignored), suggesting the one spelt alike", () => {
    expect(() => parseQuotaOverrides(["CreateCertificateFromCSR=40"])).toThrow(
      expect.objectContaining({
        code: "USAGE",
        message: expect.stringMatching(
          /CreateCertificateFromCSR is not .*; did you mean CreateCertificateFromCsr\?/,
        ),
        hint: "operation names are case-sensitive: --quota CreateCertificateFromCsr=40",
      }),
    );
    expect(() => parseQuotaOverrides(["Bogus=5"])).toThrow(
      expect.objectContaining({
        hint: expect.stringMatching(/one of: AttachPolicy, .*ListThingPrincipalsV2/),
      }),
    );
    expect(parseQuotaOverrides(["ListThingPrincipalsV2=20"])).toEqual({ ListThingPrincipalsV2: 20 });
  });

  it("--headroom sets the share of each quota the station sends at; out of range is a usage error naming it", () => {
    expect(quotaShareFromHeadroom(undefined)).toBe(QUOTA_SHARE_DEFAULT);
    expect(quotaShareFromHeadroom(5)).toBeCloseTo(0.95, 10);
    const plan = planRates(defaults, {}, quotaShareFromHeadroom(5));
    expect(plan.binding).toEqual({ operation: "CreateCertificateFromCsr", tps: 14.25, devicesPerMin: 855 });
    expect(describeRatePlan(plan)).toMatch(/the station sends at 95% of each; .* at most 855 devices\/min/);
    // A fractional headroom is shown as given, not rounded back to the default.
    expect(describeRatePlan(planRates(defaults, {}, quotaShareFromHeadroom(10.5)))).toMatch(
      /the station sends at 89\.5% of each/,
    );
    for (const bad of [0, 0.5, 51, 100, Number.NaN]) {
      expect(() => quotaShareFromHeadroom(bad), String(bad)).toThrow(
        expect.objectContaining({
          code: "USAGE",
          message: expect.stringMatching(/^--headroom .*from 1 to 50/),
        }),
      );
    }
  });
});
