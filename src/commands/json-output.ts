/**
 * The one shape of `--json` output (docs/json-output.md, JSON Schema in
 * docs/json-output.schema.json): every object says which command printed it,
 * whether it succeeded (`ok`), its `outcome` (what was done, or the error
 * code), its step timings in `timingsMs`, and on failure an `error` whose
 * `rolledBack` is always present. Fields printed before this shape existed
 * (`mode`, the station's `timings`) are kept beside the unified ones.
 */
import type { ProvisionError } from "../errors.js";
import type { FlashResult } from "../flash/flash.js";
import type { CleanupReport, ThingsCleanupReport } from "../ledger/index.js";
import { safeJson } from "../printable.js";
import type { ProvisionResult } from "../provision/pipeline.js";
import type { DeviceRecord } from "../station/index.js";

export type JsonCommand = "provision" | "verify" | "station" | "cleanup" | (string & {});

/** Errors whose JSON object the command printed itself: the CLI entry prints no second one. */
const printed = new WeakSet<Error>();

function writeLine(value: unknown): void {
  process.stdout.write(`${safeJson(value)}\n`);
}

/** One object of the shape, built by its command (flash). */
export const writeJsonLine = writeLine;

/** The error object of the shape: the error's own fields, `rolledBack` always there. */
export function errorJson(err: ProvisionError): Record<string, unknown> {
  return { ...err.toJSON(), rolledBack: err.details.rolledBack === true };
}

/** A command that failed: `{command, ok: false, outcome: <code>, error}` (the CLI entry prints it). */
export function printFailure(command: JsonCommand, err: ProvisionError): void {
  if (printed.has(err)) return;
  writeLine({ command, ok: false, outcome: err.code, error: errorJson(err) });
}

/** One provisioned or verified device (`provision --json`, `verify --json`, `demo --json`). */
export function printDeviceResult(
  command: JsonCommand,
  result: ProvisionResult & { flash?: FlashResult; flashSkipped?: { version: string; elfSha256: string } },
  timingsMs: Record<string, number>,
): void {
  writeLine({ command, outcome: result.mode, ...result, timingsMs });
}

/** One line per device a station took (finished, failed or not started). */
export function stationLine(record: DeviceRecord): Record<string, unknown> {
  const error = record.error && { ...record.error, rolledBack: record.rollback === "rolled-back" };
  return { command: "station", ...record, ...(error ? { error } : {}), timingsMs: record.timings };
}

export function printStationLine(record: DeviceRecord): void {
  writeLine(stationLine(record));
}

/**
 * `cleanup --json` (of a ledger, or of things from the cloud): the report,
 * and when something could not be cleaned the error in the same object (one
 * object, not a report and then an error).
 */
export function printCleanupReport(
  report: CleanupReport | ThingsCleanupReport,
  timingsMs: Record<string, number>,
  failure: ProvisionError | undefined,
): void {
  const ok = failure === undefined;
  const outcome = ok ? "cleaned" : failure.code;
  writeLine({
    command: "cleanup",
    ok,
    outcome,
    ...report,
    timingsMs,
    ...(ok ? {} : { error: errorJson(failure) }),
  });
  if (failure) printed.add(failure);
}
