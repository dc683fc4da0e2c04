/**
 * The short soak CI runs: 50 runs of `npm run soak` (the real CLI, a random
 * fault per run, reruns, the SDK audit), which must end with every device
 * recovered and nothing found by the audits. The 1,000-run figures are in
 * docs/reliability.md.
 */
import { describe, expect, it } from "vitest";
import type { SoakReport } from "../scripts/soak/report.js";
import { runCli } from "./cli.test-helper.js";
import { violations } from "./iot-audit.test-helper.js";

const RUNS = 50;

describe("soak (short)", () => {
  it(`${RUNS} runs with a random fault each: every device recovered, the audits find nothing`, async () => {
    const r = await runCli(
      ["--runs", String(RUNS), "--workers", "2", "--seed", "42", "--audit-every", "20", "--json"],
      {
        cwd: process.cwd(),
        inheritEnv: true,
        script: "scripts/soak.ts",
      },
    );
    expect(r.status, r.stderr.slice(-4000)).toBe(0);
    const report = JSON.parse(r.stdout) as SoakReport;
    expect(report.records).toHaveLength(RUNS);
    expect(report.records.filter((x) => !x.recovered || x.problems.length > 0)).toEqual([]);
    expect(violations(report.finalAudit)).toBe(0);
    expect(report.finalAudit.activeCertificates).toBe(RUNS);
    expect(report.finalCleanup.failed).toBe(0);
    expect(report.interimAudits.map((a) => [a.afterRuns >= 20, a.violations])).toEqual([
      [true, 0],
      [true, 0],
    ]);
    // The seed draws every kind of fault, kills after every step, and both tools.
    expect(new Set(report.records.map((x) => x.fault)).size).toBeGreaterThanOrEqual(9);
    expect(new Set(report.records.flatMap((x) => (x.at ? [x.at] : []))).size).toBe(6);
    expect(new Set(report.records.map((x) => x.tool))).toEqual(new Set(["provision", "station"]));
  }, 1_800_000);
});
