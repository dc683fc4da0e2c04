import { existsSync } from "node:fs";
import { ProvisionError } from "../errors.js";
import { type CleanupReport, cleanupFromLedger } from "../ledger/index.js";
import { printable } from "../printable.js";
import { openTarget } from "../provision/target.js";
import type { ThingsCleanupCommandOptions } from "./cleanup-things.js";
import { interrupt } from "./interrupt.js";
import { printCleanupReport } from "./json-output.js";
import { ledgerWaitMs, setAsideText } from "./ledger-open.js";

export interface CleanupCommandOptions extends ThingsCleanupCommandOptions {
  /** The ledger to finish; with --things/--thing, where the changes are recorded. */
  ledger?: string;
}

/** What cleanup did and what it only knows from the ledger, one line each. */
export function cleanupText(report: CleanupReport): string[] {
  const lines = [`ledger ${report.ledger}: ${report.runsExamined} run(s) examined`];
  if (report.setAside) lines.push(`  ${setAsideText(report.setAside)}`);
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
  if (opts.things !== undefined || opts.thing !== undefined || opts.keep !== undefined) {
    const { cleanupThingsCommand } = await import("./cleanup-things.js");
    return cleanupThingsCommand(opts);
  }
  if (opts.ledger === undefined) {
    throw new ProvisionError("USAGE", "cleanup needs --ledger FILE, or --things PREFIX / --thing NAME", {
      hint: "--ledger finishes what a ledger's runs left; --things/--thing audits and repairs things from the cloud alone",
    });
  }
  const ledgerFile = opts.ledger;
  // A mistyped path must not read as "nothing was open" (and leave an empty ledger behind).
  if (!existsSync(ledgerFile)) {
    throw new ProvisionError("CONFIG", `ledger ${ledgerFile} does not exist`, {
      where: ledgerFile,
      hint: "give --ledger the file the provisioning runs wrote (their --ledger or the config's ledger)",
    });
  }
  const started = performance.now();
  const say = (text: string) => process.stderr.write(`${printable(text)}\n`);
  const target = await openTarget(opts, say);
  try {
    const report = await cleanupFromLedger(target.registry, ledgerFile, {
      includeUncommitted: opts.includeUncommitted,
      signal: interrupt.signal,
      // A run in progress must not be taken for an interrupted one: wait for its process, or refuse.
      lock: { waitMs: ledgerWaitMs(opts.ledgerWait), onWait: say },
    });
    const failure =
      report.failed.length > 0
        ? new ProvisionError("ROLLBACK_INCOMPLETE", `${report.failed.length} run(s) could not be cleaned`, {
            where: ledgerFile,
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
