/**
 * `provision station`: the factory station. Many ports at once (explicit
 * list, hotplug watch, or a fixture map), one shared cloud target with
 * per-operation rate limits (from the account's quotas, optionally shared
 * with other stations through Redis), one observer, one ledger, a manifest
 * of the devices provisioned, and a live per-port view on stderr.
 */
import { existsSync, realpathSync } from "node:fs";
import { hostname } from "node:os";
import { resolve } from "node:path";
import { getBoard } from "../boards/index.js";
import { ProvisionError } from "../errors.js";
import type { FlashFlags } from "../flash/options.js";
import { printable } from "../printable.js";
import { interruptSignalOf, throwIfInterrupted, whenInterrupted } from "../provision/interruption.js";
import { openTarget } from "../provision/target.js";
import { OperationRateLimiter } from "../registry/rate-limits.js";
import { openRateStore, rateStoreUrlFrom } from "../registry/rate-store.js";
import type { DeviceTimeouts } from "../session/index.js";
import {
  CONCURRENCY_DEFAULT,
  explicitPorts,
  LiveView,
  loadFixture,
  Manifest,
  manifestFiles,
  type PortSource,
  Station,
  type StationSummary,
  watchPorts,
} from "../station/index.js";
import {
  describeRatePlan,
  parseQuotaOverrides,
  planRates,
  quotaShareFromHeadroom,
} from "../station/rate-plan.js";
import { interrupt } from "./interrupt.js";
import { printStationLine } from "./json-output.js";
import { LEDGER_FILE_DEFAULT, openLedger } from "./ledger-open.js";
import { buildPlan, loadConfig, type PlanFlags, planWarnings, targetOptions } from "./plan.js";

export const MANIFEST_PREFIX_DEFAULT = "provision-manifest";

export interface StationCommandOptions extends PlanFlags, FlashFlags {
  /** Explicit ports (each its own slot). */
  ports?: string[];
  /** Poll the port list every second and take ports whose USB ids match a board. */
  watch?: boolean;
  /** JSON slot -> USB location map; implies watching. */
  fixture?: string;
  concurrency?: number;
  /** Prefix of the manifest's files (manifestFiles: <prefix>.manifest.csv and .jsonl). */
  manifest?: string;
  stationId?: string;
  local?: boolean;
  localStateDir?: string;
  /** Ports of the local AWS IoT (0 = any free one); default the fixed LOCAL_PORTS_DEFAULT. */
  localPorts?: { controlPlane: number; mqtts: number; wss: number };
  /** A running `provision local-iot` (its --json output in this file), shared with other stations. */
  localIotInfo?: string;
  /** "Operation=TPS" quotas over the account's, e.g. CreateCertificateFromCsr=50. */
  quota?: string[];
  /** Percent under each quota the station stays (default 10): `--headroom`. */
  headroom?: number;
  /** redis://host:port: share one budget per operation with every station on that Redis. */
  rateStore?: string;
  /** Switch each device to this rate after HELLO when it lists it (e.g. 921600). */
  switchBaud?: number;
  /** `--device-timeout NAME=MS`, parsed. */
  deviceTimeout?: DeviceTimeouts;
  json?: boolean;
  /** `--ui [HOST:]PORT`: serve the station's page (src/station-ui, loaded only then). */
  ui?: string;
  /** `--ui-token-file FILE`: the page's token (else one is generated for a non-loopback host). */
  uiTokenFile?: string;
  /** Test/benchmark seam: abort signal instead of the process's SIGINT. */
  signal?: AbortSignal;
}

function portSource(opts: StationCommandOptions, info: (text: string) => void): PortSource {
  const ports = opts.ports ?? (opts.port ? [opts.port] : []);
  if (ports.length > 0 && (opts.watch || opts.fixture)) {
    throw new ProvisionError("USAGE", "give either ports, or --watch / --fixture, not both");
  }
  if (opts.fixture) {
    return watchPorts({
      fixture: loadFixture(opts.fixture),
      onIgnored: (p, reason) => info(`ignoring ${p.path}: ${reason}`),
    });
  }
  if (opts.watch) return watchPorts({ onIgnored: (p, reason) => info(`ignoring ${p.path}: ${reason}`) });
  if (ports.length === 0) {
    throw new ProvisionError("PORT_NOT_GIVEN", "the station has no ports", {
      hint: "pass ports (provision station /dev/ttyUSB0 /dev/ttyUSB1 ...), --watch, or --fixture FILE",
    });
  }
  return explicitPorts(ports);
}

export function summaryText(s: StationSummary): string {
  const lines = [
    `station ${s.stationId}: ${s.ok} ok (${s.provisioned} provisioned, ${s.verified} verified), ${s.failed} failed` +
      `${s.notStarted ? `, ${s.notStarted} not started` : ""} in ${(s.durationMs / 1000).toFixed(1)} s, ${s.devicesPerMinute} devices/min` +
      (s.interrupted ? " (interrupted)" : ""),
  ];
  for (const r of s.records.filter((x) => !x.ok && x.outcome !== "not-started")) {
    lines.push(
      `  ${r.slot} ${r.deviceId ?? "?"}: ${r.error?.code} at ${r.failedStep ?? "open"}: ${r.error?.message}` +
        (r.rollback ? ` [cloud: ${r.rollback}]` : ""),
    );
  }
  if (s.records.some((r) => r.rollback === "rollback-open"))
    lines.push("  some rollbacks are open: run `provision cleanup --ledger FILE`");
  return lines.map(printable).join("\n");
}

/** A path as the file system sees it (a symlink or `./` must not hide that two names are one file). */
function samePath(a: string, b: string): boolean {
  const real = (p: string) => (existsSync(p) ? realpathSync(p) : resolve(p));
  return real(a) === real(b);
}

/**
 * The ledger is the audit trail and `cleanup`'s input; the manifest is the
 * line's list of devices. Written into one file, each breaks the other
 * (manifest rows in the ledger; the ledger's records in the ERP's list).
 */
function checkLedgerIsNotManifest(ledgerFile: string, manifestPrefix: string): void {
  const files = manifestFiles(manifestPrefix);
  const clash = [files.csvFile, files.jsonlFile].find((f) => samePath(f, ledgerFile));
  if (clash === undefined) return;
  throw new ProvisionError("USAGE", `the ledger ${ledgerFile} would be the manifest's ${clash}`, {
    where: ledgerFile,
    hint: `give --ledger its own file (e.g. ${manifestPrefix.replace(/\.(csv|jsonl)$/, "")}-ledger.jsonl); --manifest ${manifestPrefix} writes ${files.csvFile} and ${files.jsonlFile}`,
  });
}

export async function stationCommand(opts: StationCommandOptions): Promise<StationSummary> {
  const config = await loadConfig(opts.config);
  const plan = buildPlan(opts, config);
  const ledgerFile = opts.ledger ?? config.ledger ?? LEDGER_FILE_DEFAULT;
  const manifestPrefix = opts.manifest ?? MANIFEST_PREFIX_DEFAULT;
  checkLedgerIsNotManifest(ledgerFile, manifestPrefix);
  if (plan.boardId) getBoard(plan.boardId);
  // A bad image fails here, before any port is opened (exit 2).
  const image = (await import("../flash/options.js")).flashImageOf(opts);
  const concurrency = opts.concurrency ?? CONCURRENCY_DEFAULT;
  const signal = opts.signal ?? interrupt.signal;
  const closers: (() => Promise<void>)[] = [];
  let view: LiveView | undefined;
  const info = (text: string) => (view ? view.info(text) : process.stderr.write(`${text}\n`));
  // Flag values before the ports: a usage error must not hide behind "no ports".
  const quotaOverrides = parseQuotaOverrides(opts.quota);
  const share = quotaShareFromHeadroom(opts.headroom);
  const source = portSource(opts, info);
  if (opts.uiTokenFile !== undefined && opts.ui === undefined)
    throw new ProvisionError("USAGE", "--ui-token-file goes with --ui [HOST:]PORT", {
      where: "--ui-token-file",
    });
  for (const w of planWarnings(plan)) info(`warning: ${w}`);
  try {
    const stationId = opts.stationId ?? hostname();
    const ui =
      opts.ui === undefined
        ? undefined
        : await (await import("../station-ui/index.js")).openStationUi(
            { ...opts, ui: opts.ui },
            stationId,
            info,
          );
    if (ui) {
      closers.push(() => ui.close());
      signal.addEventListener("abort", () => ui.setStatus("stopping"), { once: true });
    }
    // Interruption points before each thing that is opened (crash-consistency: docs/reliability.md).
    throwIfInterrupted(signal);
    const storeUrl = rateStoreUrlFrom(opts.rateStore, config.rateStore);
    const store = storeUrl === undefined ? undefined : await openRateStore(storeUrl);
    if (store) closers.push(() => store.close());
    const limiter = new OperationRateLimiter({ store, share });
    closers.push(() => limiter.stop());
    throwIfInterrupted(signal);
    const target = await openTarget(
      { ...targetOptions(opts, config), localIotInfo: opts.localIotInfo, rateLimit: limiter },
      info,
    );
    closers.push(() => target.close());
    // Quotas are per account and region: stations share a budget only within one region.
    const rates = planRates(await target.readQuotas(), quotaOverrides, share);
    limiter.configure(rates.rates, target.region);
    info(describeRatePlan(rates) + (store ? `; budget shared through ${store.description}` : ""));
    throwIfInterrupted(signal);
    const ledger = await openLedger(ledgerFile, info, opts.ledgerWait);
    closers.push(() => ledger.close());
    const manifest = await Manifest.open(manifestPrefix);
    closers.push(() => manifest.close());
    throwIfInterrupted(signal);
    const observer = await target.openObserver();
    closers.push(() => observer.close());
    ui?.describe({
      target,
      rates,
      ledgerFile: ledger.file,
      manifest,
      concurrency,
      plan,
      flash: image !== undefined,
      ports: opts.fixture ? `--fixture ${opts.fixture}` : opts.watch ? "--watch" : "port list",
      ...(store && storeUrl ? { rateStore: { description: store.description, url: storeUrl } } : {}),
    });
    const station: Station = new Station({
      target,
      observer,
      ledger,
      manifest,
      plan,
      concurrency,
      stationId,
      signal,
      baud: opts.baud ?? config.baud,
      switchBaud: opts.switchBaud,
      deviceTimeouts: opts.deviceTimeout,
      ...(image ? { flash: { flags: opts, image } } : {}),
      onSlotChange: (slot) => {
        view?.slotChanged(slot);
        ui?.slotChanged(slot);
      },
      onInfo: info,
      onDevice: (record) => {
        ui?.deviceFinished(record);
        if (opts.json) printStationLine(record);
      },
    });
    ui?.attach(station);
    view = new LiveView(station);
    view.start();
    info(
      `station ${station.stationId}: concurrency ${concurrency}, ledger ${ledger.file}, manifest ${manifest.csvFile}`,
    );
    let summary: StationSummary;
    try {
      summary = await station.run(source);
    } finally {
      view.stop();
    }
    process.stderr.write(`${summaryText(summary)}\n`);
    if (ui && !summary.interrupted && !opts.watch && !opts.fixture) {
      // The final state stays readable until the operator stops the station.
      ui.setStatus("finished");
      process.stderr.write(`the station is through its ports; its view stays at ${ui.url} until Ctrl-C\n`);
      await whenInterrupted(signal);
    }
    if (summary.interrupted) {
      const by = interruptSignalOf(signal.reason);
      throw new ProvisionError("INTERRUPTED", `station interrupted after ${summary.ok} device(s)`, {
        hint: summary.records.some((r) => r.rollback === "rollback-open")
          ? "run `provision cleanup --ledger FILE` for the open rollbacks"
          : "start the station again to continue; finished devices are verified, not registered twice",
        details: by ? { signal: by } : {},
      });
    }
    const firstFailure = summary.records.find((r) => !r.ok);
    if (firstFailure?.error) {
      throw new ProvisionError(
        firstFailure.error.code as ProvisionError["code"],
        `${summary.failed} of ${summary.devices} device(s) failed; first: ${firstFailure.slot} ${firstFailure.deviceId ?? ""}: ${firstFailure.error.message}`,
        {
          where: firstFailure.port,
          hint: "see the summary above; start the station again to retry the failed devices",
        },
      );
    }
    return summary;
  } finally {
    for (const close of closers.reverse()) await close().catch(() => undefined);
  }
}
