import { existsSync } from "node:fs";
import { ProvisionError } from "../errors.js";
import { cleanupFromLedger } from "../ledger/index.js";
import { safeJson } from "../printable.js";
import { openTarget, type TargetOptions } from "../provision/target.js";

export interface CleanupCommandOptions extends TargetOptions {
  ledger: string;
  json?: boolean;
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
  const target = await openTarget(opts);
  try {
    const report = await cleanupFromLedger(target.registry, opts.ledger);
    if (opts.json) {
      process.stdout.write(`${safeJson({ ok: report.failed.length === 0, ...report })}\n`);
    } else {
      const out = process.stderr;
      out.write(`ledger ${report.ledger}: ${report.runsExamined} run(s) examined\n`);
      for (const c of report.cleaned)
        out.write(
          `  cleaned ${c.thing ?? c.device ?? c.run}: certificates ${c.certificates.join(", ") || "none"}\n`,
        );
      for (const u of report.uncommitted)
        out.write(
          `  left alone (registered, never reached the device): ${u.thing ?? u.run} ${u.certificateId ?? ""}\n`,
        );
      for (const f of report.failed) out.write(`  FAILED ${f.thing ?? f.run}: ${String(f.error.message)}\n`);
      if (report.cleaned.length + report.failed.length === 0) out.write("  nothing was open\n");
    }
    if (report.failed.length > 0) {
      throw new ProvisionError("ROLLBACK_INCOMPLETE", `${report.failed.length} run(s) could not be cleaned`, {
        where: opts.ledger,
        hint: "fix the cause shown above and run cleanup again; it is safe to repeat",
      });
    }
  } finally {
    await target.close();
  }
}
