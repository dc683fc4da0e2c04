import { mkdtemp, readFile, rm } from "node:fs/promises";
import { cpus, freemem, loadavg, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { IOT_RATE_QUOTAS, IOT_RATE_UNLISTED_TPS } from "../src/cloud/iot-quotas.js";
import { Ledger } from "../src/ledger/index.js";
import { POLICY_NAME_DEFAULT, THING_NAME_TEMPLATE_DEFAULT } from "../src/provision/pipeline.js";
import { targetForLocalIot } from "../src/provision/target.js";
import { OperationRateLimiter, TOPIC_DEFAULT } from "../src/registry/index.js";
import { explicitPorts, Manifest, Station, swappedPorts } from "../src/station/index.js";
import { PER_DEVICE_OPERATIONS, planRates, quotaShareFromHeadroom } from "../src/station/rate-plan.js";
import { steadyThroughput } from "../src/station/throughput.js";
import { startTwins, type Twin } from "../src/twin/index.js";
import { serveLocalIot, startRemoteIot } from "./bench/local-iot-child.js";
import { type PassResult, printUiComparison, startUiWithBrowser } from "./bench/ui-pass.js";

// Node 20 is supported by the SDK releases we pin; its notice would only clutter the report.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";

const CLK_TCK = 100; // Linux USER_HZ, what /proc/<pid>/stat counts in
/** Twins started at once: 160 spawns together would outlast the twin's start timeout on 2 busy cores. */
const TWIN_START_BATCH = 32;

// ---- measurement helpers ---------------------------------------------------

async function procCpuMs(pid: number): Promise<number | undefined> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, "utf8");
    // Fields after the ")" of the command name: utime is field 14, stime 15 (1-based).
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLK_TCK;
  } catch {
    return undefined;
  }
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return 0;
  const rank = Math.ceil((p / 100) * sorted.length) - 1;
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank))] ?? 0;
}

// ---- the benchmark ---------------------------------------------------------

async function startTwinsInBatches(
  n: number,
  dir: string,
  options: { lineRateBaud?: number },
): Promise<Twin[]> {
  const twins: Twin[] = [];
  for (let i = 0; i < n; i += TWIN_START_BATCH) {
    const batch = await startTwins(Math.min(TWIN_START_BATCH, n - i), join(dir, `batch-${i}`), options);
    twins.push(...batch);
  }
  return twins;
}

function wholeNumber(name: string, text: string | undefined, min: number): number {
  const n = Number(text);
  if (text === undefined || !Number.isInteger(n) || n < min)
    throw new Error(`--${name} ${text}: a whole number >= ${min}`);
  return n;
}

/**
 * One run. `withUi` (from `--ui`, which runs four: without, with, with and
 * without the page, so a drift of the machine cancels out): the station's page
 * served and one browser watching; the result is returned, not printed.
 */
async function bench(withUi?: boolean): Promise<PassResult | undefined> {
  const { values } = parseArgs({
    options: {
      slots: { type: "string", default: "16" },
      devices: { type: "string", default: "160" },
      quota: { type: "string" },
      headroom: { type: "string" },
      "line-rate": { type: "string", default: "115200" },
      "baud-switch": { type: "string" },
      "no-pace-host": { type: "boolean", default: false },
      json: { type: "boolean", default: false },
      keep: { type: "boolean", default: false },
      warmup: { type: "string", default: "1" },
      ui: { type: "boolean", default: false },
    },
    allowPositionals: false,
    strict: true,
  });
  const devices = wholeNumber("devices", values.devices, 1);
  const slots = Math.min(devices, wholeNumber("slots", values.slots, 1));
  const quota = values.quota === undefined ? undefined : Number(values.quota);
  if (quota !== undefined && !(quota > 0)) throw new Error(`--quota ${values.quota}: requests/s > 0`);
  const share = quotaShareFromHeadroom(values.headroom === undefined ? undefined : Number(values.headroom));
  const lineRate = wholeNumber("line-rate", values["line-rate"], 0);
  const switchBaud =
    values["baud-switch"] === undefined ? undefined : Number(values["baud-switch"] || 921600);
  const paceHost = !values["no-pace-host"] && lineRate > 0;
  const warmup = wholeNumber("warmup", values.warmup, 0);

  const dir = await mkdtemp(join(tmpdir(), "provision-bench-"));
  const log = (s: string) => process.stderr.write(`${s}\n`);
  const loadBefore = loadavg();
  const remote = await startRemoteIot(fileURLToPath(import.meta.url), join(dir, "local-iot"), quota);
  const limiter = new OperationRateLimiter({ share });
  const target = await targetForLocalIot(remote.iot, { rateLimit: limiter });
  // Learnt as from AWS: Service Quotas on the service, then `share` of each (90% by default).
  const plan = planRates(await target.readQuotas(), {}, share);
  limiter.configure(plan.rates, target.region);
  const observer = await target.openObserver();
  const ledger = await Ledger.open(join(dir, "ledger.jsonl"));
  const manifest = await Manifest.open(join(dir, "manifest"));
  const twinOptions = lineRate > 0 ? { lineRateBaud: lineRate } : {};
  const twins = await startTwinsInBatches(devices, join(dir, "twins"), twinOptions);
  const warmTwins = warmup > 0 ? await startTwins(warmup, join(dir, "warmup"), twinOptions) : [];
  const stopped: Promise<void>[] = [];
  log(
    `bench: ${devices} twins through ${slots} slots, service limit ${quota === undefined ? "AWS's default quotas" : `${quota} requests/s on every operation`}, ` +
      `line rate ${lineRate || "unpaced"}${switchBaud ? `, switch to ${switchBaud}` : ""}, host pacing ${paceHost ? "on" : "off"}; load ${loadBefore.map((l) => l.toFixed(2)).join(" ")}`,
  );
  try {
    const stationOptions = {
      target,
      observer,
      ledger,
      manifest,
      concurrency: slots,
      stationId: "bench",
      plan: {
        thingNameTemplate: THING_NAME_TEMPLATE_DEFAULT,
        topic: TOPIC_DEFAULT,
        policyName: POLICY_NAME_DEFAULT,
        intervalMs: 5000,
        subject: { O: "bench" },
        force: false,
        lock: false,
        firstPublishTimeoutMs: 60_000,
      },
      baud: lineRate > 0 ? lineRate : undefined,
      switchBaud,
      paceHost,
      measureWire: true,
    };
    if (warmTwins.length > 0) {
      const warm = await new Station(stationOptions).run(explicitPorts(warmTwins.map((t) => t.port)));
      if (warm.failed > 0) log(`warm-up: ${warm.failed} device(s) failed`);
      for (const t of warmTwins) stopped.push(t.stop());
    }
    const byPort = new Map(twins.map((t) => [t.port, t]));
    const twinCpu0 = new Map(
      await Promise.all(twins.map(async (t) => [t.pid, await procCpuMs(t.pid)] as const)),
    );
    let twinCpuMs = 0;
    const finishedAt: number[] = [];
    const feed = swappedPorts(
      twins.map((t) => t.port),
      slots,
    );
    const limiterBefore = limiter.stats();
    const ui = withUi ? await startUiWithBrowser() : undefined;
    const station = new Station({
      ...stationOptions,
      onSlotChange: ui?.slotChanged,
      onDevice: (record) => {
        ui?.deviceFinished(record);
        finishedAt.push(Date.now());
        feed.done(record.slot);
        // Unplugged: the board leaves the fixture (and stops publishing), its CPU counted first.
        const twin = byPort.get(record.port);
        if (twin === undefined) return;
        stopped.push(
          procCpuMs(twin.pid).then(async (ms) => {
            twinCpuMs += (ms ?? 0) - (twinCpu0.get(twin.pid) ?? 0);
            await twin.stop();
          }),
        );
      },
    });
    // The page is open and drawn before the measured part starts.
    await ui?.attach(station);
    await remote.request("start");
    const cpu0 = process.cpuUsage();
    const startedAt = Date.now();
    let pagesWatching: number | undefined;
    const summary = await station.run(feed.source).finally(() => {
      pagesWatching = ui?.readers();
      return ui?.close();
    });
    const cpu = process.cpuUsage(cpu0);
    await Promise.all(stopped);
    const iotReport = (await remote.request("report")) as {
      peaks: Record<string, number>;
      stats: Record<string, { requests: number; rateLimited: number; throttled: number }>;
      cpuMs: number;
    };
    const loadAfter = loadavg();
    const limiterStats = limiter.stats();

    const ok = summary.records.filter((r) => r.ok);
    const totals = ok.map((r) => r.totalMs);
    const wire = summary.records.reduce(
      (a, r) => ({
        bytes: a.bytes + (r.wire ? r.wire.txBytes + r.wire.rxBytes : 0),
        payload: a.payload + (r.wire ? r.wire.txPayload + r.wire.rxPayload : 0),
      }),
      { bytes: 0, payload: 0 },
    );
    const stepMedians: Record<string, number> = {};
    for (const step of ["hello", "baud", "key", "csr", "register", "credentials", "firstPublish"]) {
      const xs = ok.map((r) => r.timings[step]).filter((x): x is number => x !== undefined);
      if (xs.length) stepMedians[step] = percentile(xs, 50);
    }
    const throughput = steadyThroughput(finishedAt, slots, startedAt);
    // The service's own limit on the per-device calls: what the rate could be at 100% of the quotas.
    const serviceQuota = (op: string) =>
      quota ?? IOT_RATE_QUOTAS.find((q) => q.operation === op)?.tps ?? IOT_RATE_UNLISTED_TPS;
    const bindingQuota = Math.min(...PER_DEVICE_OPERATIONS.map(serviceQuota));
    const quotaBoundPerMin = 60 * bindingQuota;
    const queueWaitMsPerDevice = Object.fromEntries(
      PER_DEVICE_OPERATIONS.map((op) => [
        op,
        Math.round(((limiterStats[op]?.waitMsTotal ?? 0) - (limiterBefore[op]?.waitMsTotal ?? 0)) / devices),
      ]),
    );
    const result = {
      devicesPerMin: Math.round(throughput.devicesPerMin * 10) / 10,
      quotaBoundPerMin,
      ratio: Math.round((throughput.devicesPerMin / quotaBoundPerMin) * 1000) / 1000,
      ok: summary.ok,
      failed: summary.failed,
      devices,
      slots,
      quota: quota ?? "AWS defaults",
      headroomPercent: Math.round((1 - share) * 100),
      steady: throughput.steady,
      steadyDevices: throughput.devices,
      steadyWindowMs: throughput.windowMs,
      wallMs: summary.durationMs,
      stationRatesPerSecond: Object.fromEntries(PER_DEVICE_OPERATIONS.map((op) => [op, plan.rates[op]])),
      bindingOperation: plan.binding.operation,
      totalMsP50: percentile(totals, 50),
      totalMsP95: percentile(totals, 95),
      stepMsP50: stepMedians,
      cpuMsPerDevice: {
        station: Math.round((cpu.user + cpu.system) / 1000 / devices),
        twins: Math.round(twinCpuMs / devices),
        service: Math.round(iotReport.cpuMs / devices),
      },
      queueWaitMsPerDevice,
      throttledAtStation: Object.values(limiterStats).reduce((a, s) => a + s.throttled, 0),
      peakRequestsPerSecond: iotReport.peaks,
      refusedForRate: Object.values(iotReport.stats).reduce((a, s) => a + s.rateLimited, 0),
      lineRate: lineRate || "unpaced",
      switchBaud: switchBaud ?? null,
      hostPacing: paceHost,
      warmupDevices: warmTwins.length,
      wireBytesPerPayloadByte: wire.payload ? Math.round((wire.bytes / wire.payload) * 1000) / 1000 : null,
      machine: {
        cpus: cpus().length,
        cpuModel: cpus()[0]?.model,
        memTotalGiB: Math.round(totalmem() / 2 ** 30),
        memFreeGiB: Math.round(freemem() / 2 ** 30),
        node: process.version,
        loadavgBefore: loadBefore.map((l) => Math.round(l * 100) / 100),
        loadavgAfter: loadAfter.map((l) => Math.round(l * 100) / 100),
      },
      failures: summary.records.filter((r) => !r.ok).map((r) => ({ slot: r.slot, error: r.error })),
      ui: withUi ? { pagesWatching } : (false as const),
    };
    if (withUi !== undefined) return result;
    if (values.json) {
      process.stdout.write(`${JSON.stringify(result)}\n`);
    } else {
      const peaks = Object.entries(result.peakRequestsPerSecond)
        .map(([op, v]) => `${op} ${v}`)
        .join(", ");
      const waits = Object.entries(queueWaitMsPerDevice)
        .map(([op, v]) => `${op} ${v}`)
        .join(", ");
      process.stdout.write(
        [
          `devices            ${result.ok}/${devices} ok (${result.failed} failed) through ${slots} slots, ${warmTwins.length} warm-up device(s) before`,
          `service limits     ${quota === undefined ? "AWS's default quotas" : `${quota} requests/s on every operation`}; station learnt them via Service Quotas and sends at ${Math.round(share * 100)}% of each, binding: ${result.bindingOperation}`,
          `throughput         ${result.devicesPerMin} devices/min ${throughput.steady ? `over the steady part (${throughput.devices} devices in ${(throughput.windowMs / 1000).toFixed(1)} s)` : "over the whole run (too few devices for a steady part)"}`,
          `quota-bound        ${quotaBoundPerMin} devices/min (60 x ${bindingQuota}/s): ratio ${result.ratio}`,
          `per device         p50 ${result.totalMsP50} ms, p95 ${result.totalMsP95} ms; step p50 ${JSON.stringify(stepMedians)}`,
          `CPU per device     station ${result.cpuMsPerDevice.station} ms, twins ${result.cpuMsPerDevice.twins} ms, service ${result.cpuMsPerDevice.service} ms`,
          `queued per device  ${waits} (ms in the station's limiters)`,
          `peak requests/s    ${peaks}`,
          `refused for rate   ${result.refusedForRate} at the service; ${result.throttledAtStation} throttled answers seen by the station`,
          `wire               ${result.wireBytesPerPayloadByte} wire bytes per payload byte; line rate ${result.lineRate}${switchBaud ? ` -> ${switchBaud}` : ""}, host pacing ${paceHost ? "on" : "off"}`,
          `load average       ${result.machine.loadavgBefore.join(" ")} before, ${result.machine.loadavgAfter.join(" ")} after`,
          "",
        ].join("\n"),
      );
      for (const f of result.failures)
        process.stdout.write(`failed: ${f.slot}: ${f.error?.code} ${f.error?.message}\n`);
    }
  } finally {
    await Promise.all(stopped);
    await Promise.all([...twins, ...warmTwins].map((t) => t.stop()));
    await observer.close().catch(() => undefined);
    await manifest.close();
    await ledger.close();
    await target.close();
    await limiter.stop();
    await remote.stop();
    if (!values.keep) await rm(dir, { recursive: true, force: true });
    else log(`bench state kept in ${dir}`);
  }
  return undefined;
}

if (process.argv[2] === "--serve-local-iot") {
  const quota = process.argv[4] === undefined ? undefined : Number(process.argv[4]);
  await serveLocalIot(process.argv[3] ?? join(tmpdir(), "provision-bench-iot"), quota);
} else if (process.argv.includes("--ui")) {
  const passes: PassResult[] = [];
  for (const withUi of [false, true, true, false]) passes.push((await bench(withUi)) as PassResult);
  printUiComparison(passes, process.argv.includes("--json"));
} else {
  await bench();
}
