/**
 * What the soak counts, per fault type and in total, and how it prints it
 * (a Markdown table for docs/reliability.md, or JSON).
 */
import type { AuditFindings } from "../../test/iot-audit.test-helper.js";
import type { FaultKind } from "./faults.js";

export interface RunRecord {
  run: number;
  fault: FaultKind;
  tool: "provision" | "station";
  /** The step a kill landed after. */
  at?: string;
  /** another-ledger: rotated with --force, or met erased. */
  variant?: "rotate" | "erase";
  /** How the faulty run ended: an exit status, or the signal that killed it. */
  firstExit: string;
  /** Runs after the faulty one until one ended 0 (at least one: it verifies a device the faulty run finished). */
  reruns: number;
  recovered: boolean;
  /** What the per-device audit found wrong after recovery. */
  problems: string[];
}

export interface SoakReport {
  command: string;
  seed: number;
  runs: number;
  workers: number;
  startedAt: string;
  durationS: number;
  machine: {
    cpus: number;
    loadavgStart: number[];
    loadavgEnd: number[];
    loadSampledMean: number;
    loadSampledMax: number;
  };
  serviceRestarts: number;
  records: RunRecord[];
  auditEvery: number;
  /** Whole-service SDK audits taken every `auditEvery` runs, while nothing ran. */
  interimAudits: { afterRuns: number; certificates: number; violations: number }[];
  /** What `provision cleanup` still found to do at the end, per ledger. */
  finalCleanup: { cleaned: number; retired: number; uncommitted: number; failed: number };
  /** The SDK audit of the whole local AWS IoT with every device's claim. */
  finalAudit: AuditFindings;
}

export interface FaultRow {
  fault: string;
  runs: number;
  firstExits: Record<string, number>;
  reruns: number;
  unrecovered: number;
  problems: number;
}

export function rowsByFault(records: readonly RunRecord[]): FaultRow[] {
  const rows = new Map<string, FaultRow>();
  for (const r of records) {
    const row = rows.get(r.fault) ?? {
      fault: r.fault,
      runs: 0,
      firstExits: {},
      reruns: 0,
      unrecovered: 0,
      problems: 0,
    };
    row.runs++;
    row.firstExits[r.firstExit] = (row.firstExits[r.firstExit] ?? 0) + 1;
    row.reruns += r.reruns;
    if (!r.recovered) row.unrecovered++;
    row.problems += r.problems.length;
    rows.set(r.fault, row);
  }
  return [...rows.values()].sort((a, b) => b.runs - a.runs);
}

export function markdown(report: SoakReport): string {
  const f = report.finalAudit;
  const lines = [
    `\`${report.command}\`: ${report.runs} runs, ${report.workers} workers, seed ${report.seed}, ${Math.round(report.durationS / 60)} min`,
    `(${report.machine.cpus} CPUs; load average ${report.machine.loadavgStart[0]?.toFixed(1)} at start, ${report.machine.loadavgEnd[0]?.toFixed(1)} at the end, sampled mean ${report.machine.loadSampledMean.toFixed(1)}, max ${report.machine.loadSampledMax.toFixed(1)}; local AWS IoT restarted ${report.serviceRestarts} times)`,
    "",
    "| fault | runs | first run ended | reruns | not recovered | audit problems |",
    "|---|---|---|---|---|---|",
    ...rowsByFault(report.records).map(
      (r) =>
        `| ${r.fault} | ${r.runs} | ${Object.entries(r.firstExits)
          .sort((a, b) => b[1] - a[1])
          .map(([k, n]) => `${k}: ${n}`)
          .join(", ")} | ${r.reruns} | ${r.unrecovered} | ${r.problems} |`,
    ),
    "",
    `Whole-service audits every ${report.auditEvery} runs: ${report.interimAudits.length}, violations ${report.interimAudits.reduce((n, a) => n + a.violations, 0)}.`,
    `Final SDK audit: ${f.certificates} certificates (${f.activeCertificates} ACTIVE), ${f.things} things; ` +
      `duplicates ${f.duplicates.length}, loose ${f.loose.length}, ACTIVE on several things ${f.sharedActive.length}, ` +
      `INACTIVE still attached ${f.inactiveAttached.length}, devices whose committed certificate is not the ACTIVE one ${f.committedNotActive.length}.`,
    `Final \`provision cleanup\`: ${report.finalCleanup.cleaned} rolled back, ${report.finalCleanup.retired} retired, ` +
      `${report.finalCleanup.uncommitted} uncommitted, ${report.finalCleanup.failed} failed.`,
  ];
  return lines.join("\n");
}
