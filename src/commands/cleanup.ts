import { existsSync } from "node:fs";
import { interrupt } from "../cli/interrupt.js";
import { ProvisionError } from "../errors.js";
import { type CleanupReport, cleanupFromLedger } from "../ledger/index.js";
import { printable } from "../printable.js";
import { openTarget, type TargetOptions } from "../provision/target.js";
import { printCleanupReport } from "./json-output.js";
import { ledgerWaitMs } from "./provision.js";

export interface CleanupCommandOptions extends TargetOptions {
  ledger: string;
  includeUncommitted?: boolean;
  /** Seconds to wait for another process that writes the ledger. */
  ledgerWait?: number;
  json?: boolean;
}

/** What cleanup did and what it only knows from the ledger, one line each. */
export function cleanupText(report: CleanupReport): string[] {
  const lines = [`ledger ${report.ledger}: ${report.runsExamined} run(s) examined`];
  if (report.setAside)
    lines.push(
      `  the end of the ledger (byte ${report.setAside.offset}, ${report.setAside.lines} line(s), ${report.setAside.bytes} bytes) was no record (a crash mid-write, or garbage): set aside in ${report.setAside.keptIn}`,
    );
  for (const t of report.tornLines)
    lines.push(
      t.kind === "unparsable"
        ? `  line ${t.line} (byte ${t.offset}): not a ledger record (${t.bytes} bytes), skipped; a copy is in ${report.ledger}.torn`
        : `  line ${t.line}: a torn record (${t.bytes} bytes, a crash mid-write) was skipped`,
    );
  for (const c of report.cleaned)
    lines.push(
      `  rolled back ${c.thing ?? c.device ?? c.run} (interrupted run): certificates ${c.certificates.join(", ") || "none"}`,
    );
  for (const r of report.retired)
    lines.push(
      `  retired ${r.certificateId} of ${r.thing ?? r.device ?? r.run}: its device committed a newer certificate (run ${r.supersededBy})`,
    );
  for (const u of report.uncommitted)
    lines.push(
      `  kept ${u.thing ?? u.run} ${u.certificateId ?? ""}: registered, no COMMIT recorded; the device may hold it (a run killed right after COMMIT) or not. \`provision\` on that device settles it; --include-uncommitted retires it`,
    );
  for (const f of report.failed) lines.push(`  FAILED ${f.thing ?? f.run}: ${String(f.error.message)}`);
  if (report.cleaned.length + report.retired.length + report.failed.length === 0)
    lines.push("  nothing to roll back or retire");
  return lines;
}

/** `provision cleanup --ledger FILE`: finish every rollback the ledger left open, and say what was done. */
export async function cleanupCommand(opts: CleanupCommandOptions): Promise<void> {
  // A mistyped path must not read as "nothing was open" (and leave an empty ledger behind).
  if (!existsSync(opts.ledger)) {
    throw new ProvisionError("CONFIG", `ledger ${opts.ledger} does not exist`, {
      where: opts.ledger,
      hint: "give --ledger the file the provisioning runs wrote (their --ledger or the config's ledger)",
    });
  }
  const started = performance.now();
  const say = (text: string) => process.stderr.write(`${printable(text)}\n`);
  const target = await openTarget(opts, say);
  try {
    const report = await cleanupFromLedger(target.registry, opts.ledger, {
      includeUncommitted: opts.includeUncommitted,
      signal: interrupt.signal,
      // A run in progress must not be taken for an interrupted one: wait for its process, or refuse.
      lock: { waitMs: ledgerWaitMs(opts.ledgerWait), onWait: say },
    });
    const failure =
      report.failed.length > 0
        ? new ProvisionError("ROLLBACK_INCOMPLETE", `${report.failed.length} run(s) could not be cleaned`, {
            where: opts.ledger,
            hint: "fix the cause shown above and run cleanup again; it is safe to repeat",
          })
        : undefined;
    if (opts.json) {
      printCleanupReport(report, { cleanup: Math.round(performance.now() - started) }, failure);
    } else {
      process.stderr.write(`${cleanupText(report).map(printable).join("\n")}\n`);
    }
    if (failure) throw failure;
  } finally {
    await target.close();
  }
}
