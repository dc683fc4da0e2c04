/**
 * The short soak CI runs: 50 runs of `npm run soak` (the real CLI, a random
 * fault per run, reruns, the SDK audit), which must end with every device
 * recovered and nothing found by the audits. The 1,000-run figures are in
 * docs/reliability.md.
 */
import { spawn } from "node:child_process";
import { describe, expect, it } from "vitest";
import type { SoakReport } from "../scripts/soak/report.js";
import { violations } from "./iot-audit.js";

const RUNS = 50;

describe("soak (short)", () => {
  it(`${RUNS} runs with a random fault each: every device recovered, the audits find nothing`, async () => {
    const child = spawn(
      "npx",
      ["tsx", "scripts/soak.ts", "--runs", String(RUNS), "--workers", "2", "--seed", "42", "--json"],
      {
        env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true" },
      },
    );
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => {
      stdout += d;
    });
    child.stderr.on("data", (d) => {
      stderr += d;
    });
    const status = await new Promise<number | null>((res) => child.on("close", res));
    expect(status, stderr.slice(-4000)).toBe(0);
    const report = JSON.parse(stdout) as SoakReport;
    expect(report.records).toHaveLength(RUNS);
    expect(report.records.filter((r) => !r.recovered || r.problems.length > 0)).toEqual([]);
    expect(violations(report.finalAudit)).toBe(0);
    expect(report.finalAudit.activeCertificates).toBe(RUNS);
    expect(report.finalCleanup.failed).toBe(0);
    // The seed draws most kinds of fault, kills at several steps, and both tools.
    expect(new Set(report.records.map((r) => r.fault)).size).toBeGreaterThanOrEqual(9);
    expect(new Set(report.records.flatMap((r) => (r.at ? [r.at] : []))).size).toBeGreaterThanOrEqual(5);
    expect(new Set(report.records.map((r) => r.tool))).toEqual(new Set(["provision", "station"]));
  }, 1_800_000);
});
