/**
 * `provision cleanup --things PREFIX | --thing NAME [--keep ID]`: the
 * cloud-side audit and repair of a line's things, without the ledgers that
 * made them (src/ledger/cleanup-things.ts). What it changes is recorded in
 * `--ledger` (default: the config's ledger, else provision-ledger.jsonl).
 */

import { ProvisionError } from "../errors.js";
import { cleanupThings, type ThingsCleanupReport } from "../ledger/index.js";
import { printable } from "../printable.js";
import { openTarget, type TargetOptions } from "../provision/target.js";
import { interrupt } from "./interrupt.js";
import { printCleanupReport } from "./json-output.js";
import { LEDGER_FILE_DEFAULT, openLedger } from "./ledger-open.js";
import { loadConfig } from "./plan.js";

export interface ThingsCleanupCommandOptions extends TargetOptions {
  /** Where the changes are recorded (default: the config's ledger, else provision-ledger.jsonl). */
  ledger?: string;
  /** Every thing whose name starts with this. */
  things?: string;
  /** This thing. */
  thing?: string;
  /** The certificate to keep on a thing with several ACTIVE ones. */
  keep?: string;
  /** Only for `cleanup --ledger`: refused here. */
  includeUncommitted?: boolean;
  /** Seconds to wait for another process that writes the ledger. */
  ledgerWait?: number;
  json?: boolean;
}

/** One line per thing that is not simply fine, and the count. */
export function thingsCleanupText(report: ThingsCleanupReport): string[] {
  const lines = [`${report.thingsExamined} thing(s) examined; changes recorded in ${report.ledger}`];
  for (const t of report.things) {
    for (const r of t.retired)
      lines.push(`  ${t.thing}: retired ${r.certificateId} (INACTIVE, detached, kept): ${r.why}`);
    if (t.undecided) lines.push(`  ${t.thing}: ${t.undecided}`);
    if (t.error) lines.push(`  ${t.thing}: FAILED: ${String(t.error.message)}`);
  }
  const fine = report.things.filter((t) => !t.undecided && !t.error).length;
  lines.push(`  ${fine} thing(s) hold at most one ACTIVE certificate`);
  return lines;
}

function checkFlags(opts: ThingsCleanupCommandOptions): void {
  if (opts.things !== undefined && opts.thing !== undefined)
    throw new ProvisionError("USAGE", "give --things PREFIX or --thing NAME, not both");
  if (opts.keep !== undefined && opts.thing === undefined)
    throw new ProvisionError(
      "USAGE",
      "--keep CERTIFICATE_ID goes with --thing NAME (one thing's certificate)",
    );
  if (opts.includeUncommitted)
    throw new ProvisionError(
      "USAGE",
      "--include-uncommitted is about a ledger's runs: use it with --ledger alone",
    );
}

export async function cleanupThingsCommand(opts: ThingsCleanupCommandOptions): Promise<void> {
  checkFlags(opts);
  const started = performance.now();
  const say = (text: string) => process.stderr.write(`${printable(text)}\n`);
  const file = opts.ledger ?? (await loadConfig(undefined)).ledger ?? LEDGER_FILE_DEFAULT;
  const target = await openTarget(opts, say);
  try {
    const ledger = await openLedger(file, say, opts.ledgerWait);
    let report: ThingsCleanupReport;
    try {
      report = await cleanupThings(target.registry, ledger, {
        prefix: opts.things,
        thing: opts.thing,
        keep: opts.keep,
        signal: interrupt.signal,
      });
    } finally {
      await ledger.close();
    }
    const undecided = report.things.filter((t) => t.undecided);
    const failed = report.things.filter((t) => t.error);
    const failure =
      failed.length > 0
        ? new ProvisionError("CLOUD_FAILED", `${failed.length} thing(s) could not be examined or repaired`, {
            hint: "fix the cause shown above and run cleanup again; it is safe to repeat",
          })
        : undecided.length > 0
          ? new ProvisionError(
              "DEVICE_MISMATCH",
              `${undecided.length} thing(s) hold several ACTIVE certificates: ${undecided.map((t) => t.thing).join(", ")}`,
              { hint: undecided[0]?.undecided },
            )
          : undefined;
    if (opts.json) printCleanupReport(report, { cleanup: Math.round(performance.now() - started) }, failure);
    else say(thingsCleanupText(report).join("\n"));
    if (failure) throw failure;
  } finally {
    await target.close();
  }
}
