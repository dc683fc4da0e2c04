/**
 * Station benchmark: `npm run bench -- --devices N [--line-rate 115200|921600]
 * [--baud-switch [RATE]] [--concurrency C] [--warmup K] [--no-pace-host] [--json] [--keep]`.
 *
 * Starts the local AWS IoT in its OWN process (so the station's CPU figure
 * is the station's alone) with a 15 requests/s limit on every operation, the
 * way AWS's per-account quotas look from outside; starts N device twins on
 * pseudo-terminals, paced like a UART at --line-rate; runs the station over
 * them with its own per-operation rate limits on; and prints devices per
 * minute, per-device p50/p95 total time, CPU per device (station process,
 * twins, local IoT), bytes on the wire per payload byte, and the peak
 * request rate per operation the service saw.
 *
 * --warmup K (default 1) provisions K extra twins first, outside the
 * figures: a fresh process pays ~70 ms of one-time CPU (JIT, lazy module and
 * SDK set-up) that is no device's cost. --warmup 0 shows the cold figure.
 *
 * Pacing: the twin paces the bytes it sends; the station paces what it
 * writes (PacedTransport) unless --no-pace-host, so both directions take as
 * long as on a real UART. After a --baud-switch both sides pace at the new rate.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { cpus, freemem, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { stationRateLimits } from "../src/commands/station.js";
import { Ledger } from "../src/ledger/index.js";
import { type LocalIot, startLocalIot } from "../src/local-iot/service.js";
import { POLICY_NAME_DEFAULT, THING_NAME_TEMPLATE_DEFAULT } from "../src/provision/pipeline.js";
import { targetForLocalIot } from "../src/provision/target.js";
import { TOPIC_DEFAULT } from "../src/registry/index.js";
import { explicitPorts, Manifest, Station } from "../src/station/index.js";
import { sampleRequestRates } from "../src/station/request-rates.js";
import { ensureTwinBuilt, startTwins } from "../src/twin/index.js";

const LOCAL_IOT_MAX_RPS = 15;
const CLK_TCK = 100; // Linux USER_HZ, what /proc/<pid>/stat counts in

// ---- the local AWS IoT in a child process ---------------------------------

/** Child mode: run the service, report its facts, answer "report" with stats, peaks and CPU. */
async function serveLocalIot(stateDir: string): Promise<void> {
  const iot = await startLocalIot({
    stateDir,
    faults: { default: { maxRps: LOCAL_IOT_MAX_RPS } },
  });
  const counts = () => Object.fromEntries(Object.entries(iot.stats()).map(([op, s]) => [op, s.requests]));
  let sampler = sampleRequestRates(counts);
  let cpu = process.cpuUsage();
  process.stdout.write(
    `${JSON.stringify({
      controlPlaneUrl: iot.controlPlaneUrl,
      endpoint: iot.endpoint,
      mqttsPort: iot.mqttsPort,
      wssPort: iot.wssPort,
      caFile: iot.caFile,
      caPem: iot.caPem,
      region: iot.region,
      accountId: iot.accountId,
      credentials: iot.credentials,
      stateDir: iot.stateDir,
      brokerRunning: iot.brokerRunning,
    })}\n`,
  );
  for await (const line of createInterface({ input: process.stdin })) {
    if (line === "start") {
      sampler.stop();
      sampler = sampleRequestRates(counts);
      cpu = process.cpuUsage();
    } else if (line === "report") {
      const used = process.cpuUsage(cpu);
      process.stdout.write(
        `${JSON.stringify({ peaks: sampler.stop(), stats: iot.stats(), cpuMs: (used.user + used.system) / 1000 })}\n`,
      );
    }
  }
  await iot.stop();
}

interface RemoteIot {
  iot: LocalIot;
  request(cmd: "start" | "report"): Promise<Record<string, unknown> | undefined>;
  stop(): Promise<void>;
}

async function startRemoteIot(stateDir: string): Promise<RemoteIot> {
  const script = fileURLToPath(import.meta.url);
  const child: ChildProcess = spawn(
    process.execPath,
    [...process.execArgv, script, "--serve-local-iot", stateDir],
    {
      stdio: ["pipe", "pipe", "inherit"],
    },
  );
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  const waiting: ((line: string) => void)[] = [];
  lines.on("line", (l) => waiting.shift()?.(l));
  const next = () => new Promise<string>((done) => waiting.push(done));
  const info = JSON.parse(await next()) as LocalIot;
  // The target only reads these facts; stats live in the child and come back through request().
  const iot = { ...info, setFaults() {}, stats: () => ({}), stop: async () => {} } as unknown as LocalIot;
  return {
    iot,
    async request(cmd) {
      child.stdin?.write(`${cmd}\n`);
      if (cmd === "start") return undefined;
      return JSON.parse(await next()) as Record<string, unknown>;
    },
    async stop() {
      child.stdin?.end();
      const exited = new Promise((r) => child.once("exit", r));
      const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}

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

async function bench(): Promise<void> {
  const { values } = parseArgs({
    options: {
      devices: { type: "string", default: "8" },
      "line-rate": { type: "string", default: "115200" },
      "baud-switch": { type: "string" },
      concurrency: { type: "string" },
      "no-pace-host": { type: "boolean", default: false },
      json: { type: "boolean", default: false },
      keep: { type: "boolean", default: false },
      warmup: { type: "string", default: "1" },
    },
    allowPositionals: false,
    strict: true,
  });
  const n = Number(values.devices);
  const lineRate = Number(values["line-rate"]);
  const switchBaud =
    values["baud-switch"] === undefined ? undefined : Number(values["baud-switch"] || 921600);
  const concurrency = values.concurrency ? Number(values.concurrency) : n;
  const paceHost = !values["no-pace-host"] && lineRate > 0;
  const warmup = Number(values.warmup);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--devices ${values.devices}: a whole number >= 1`);

  const dir = await mkdtemp(join(tmpdir(), "provision-bench-"));
  const log = (s: string) => process.stderr.write(`${s}\n`);
  await ensureTwinBuilt();
  const remote = await startRemoteIot(join(dir, "local-iot"));
  const target = await targetForLocalIot(remote.iot, { rateLimit: stationRateLimits([]) });
  const observer = await target.openObserver();
  const ledger = await Ledger.open(join(dir, "ledger.jsonl"));
  const manifest = await Manifest.open(join(dir, "manifest"));
  const twinOptions = lineRate > 0 ? { lineRateBaud: lineRate } : {};
  const twins = await startTwins(n, join(dir, "twins"), twinOptions);
  const warmTwins = warmup > 0 ? await startTwins(warmup, join(dir, "warmup"), twinOptions) : [];
  log(
    `bench: ${n} twins, line rate ${lineRate || "unpaced"}${switchBaud ? `, switch to ${switchBaud}` : ""}, concurrency ${concurrency}, host pacing ${paceHost ? "on" : "off"}`,
  );
  try {
    const stationOptions = {
      target,
      observer,
      ledger,
      manifest,
      concurrency,
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
      // One-time costs of a fresh process (JIT, lazy module and SDK set-up) are not per-device costs.
      const warm = await new Station(stationOptions).run(explicitPorts(warmTwins.map((t) => t.port)));
      if (warm.failed > 0) log(`warm-up: ${warm.failed} device(s) failed`);
    }
    const station = new Station(stationOptions);
    const twinCpu0 = await Promise.all(twins.map((t) => procCpuMs(t.pid)));
    await remote.request("start");
    const cpu0 = process.cpuUsage();
    const summary = await station.run(explicitPorts(twins.map((t) => t.port)));
    const cpu = process.cpuUsage(cpu0);
    const twinCpu1 = await Promise.all(twins.map((t) => procCpuMs(t.pid)));
    const iotReport = (await remote.request("report")) as {
      peaks: Record<string, number>;
      stats: Record<string, { requests: number; rateLimited: number; throttled: number }>;
      cpuMs: number;
    };

    const ok = summary.records.filter((r) => r.ok);
    const totals = ok.map((r) => r.totalMs);
    const wire = summary.records.reduce(
      (a, r) => ({
        bytes: a.bytes + (r.wire ? r.wire.txBytes + r.wire.rxBytes : 0),
        payload: a.payload + (r.wire ? r.wire.txPayload + r.wire.rxPayload : 0),
        tx: a.tx + (r.wire?.txBytes ?? 0),
        rx: a.rx + (r.wire?.rxBytes ?? 0),
      }),
      { bytes: 0, payload: 0, tx: 0, rx: 0 },
    );
    const twinCpuMs = twinCpu1.reduce<number>((a, v, i) => a + ((v ?? 0) - (twinCpu0[i] ?? 0)), 0);
    const stepMedians: Record<string, number> = {};
    for (const step of ["hello", "baud", "key", "csr", "register", "credentials", "firstPublish"]) {
      const xs = ok.map((r) => r.timings[step]).filter((x): x is number => x !== undefined);
      if (xs.length) stepMedians[step] = percentile(xs, 50);
    }
    const result = {
      devices: n,
      ok: summary.ok,
      failed: summary.failed,
      lineRate: lineRate || "unpaced",
      switchBaud: switchBaud ?? null,
      concurrency,
      warmupDevices: warmTwins.length,
      hostPacing: paceHost,
      wallMs: summary.durationMs,
      devicesPerMinute: summary.devicesPerMinute,
      totalMsP50: percentile(totals, 50),
      totalMsP95: percentile(totals, 95),
      stepMsP50: stepMedians,
      stationCpuMsPerDevice: Math.round((cpu.user + cpu.system) / 1000 / n),
      twinCpuMsPerDevice: Math.round(twinCpuMs / n),
      localIotCpuMsPerDevice: Math.round(iotReport.cpuMs / n),
      wireBytesPerDevice: Math.round(wire.bytes / n),
      wireTxBytesPerDevice: Math.round(wire.tx / n),
      wireRxBytesPerDevice: Math.round(wire.rx / n),
      wireBytesPerPayloadByte: wire.payload ? Math.round((wire.bytes / wire.payload) * 1000) / 1000 : null,
      peakRequestsPerSecond: iotReport.peaks,
      rateLimitedAtService: Object.values(iotReport.stats).reduce((a, s) => a + s.rateLimited, 0),
      machine: {
        cpus: cpus().length,
        cpuModel: cpus()[0]?.model,
        memTotalGiB: Math.round(totalmem() / 2 ** 30),
        memFreeGiB: Math.round(freemem() / 2 ** 30),
        node: process.version,
      },
      failures: summary.records.filter((r) => !r.ok).map((r) => ({ slot: r.slot, error: r.error })),
    };
    if (values.json) {
      process.stdout.write(`${JSON.stringify(result)}\n`);
    } else {
      const peaks = Object.entries(result.peakRequestsPerSecond)
        .map(([op, v]) => `${op} ${v}`)
        .join(", ");
      process.stdout.write(
        [
          `devices            ${result.ok}/${n} ok (${result.failed} failed), concurrency ${concurrency}, ${warmTwins.length} warm-up device(s) before`,
          `line rate          ${result.lineRate}${switchBaud ? ` -> ${switchBaud} after HELLO` : ""}, host pacing ${paceHost ? "on" : "off"}`,
          `throughput         ${result.devicesPerMinute} devices/min (wall ${(result.wallMs / 1000).toFixed(1)} s)`,
          `per device         p50 ${result.totalMsP50} ms, p95 ${result.totalMsP95} ms; step p50 ${JSON.stringify(stepMedians)}`,
          `CPU per device     station ${result.stationCpuMsPerDevice} ms, twins ${result.twinCpuMsPerDevice} ms, local IoT ${result.localIotCpuMsPerDevice} ms`,
          `wire               ${result.wireBytesPerDevice} B/device (tx ${result.wireTxBytesPerDevice}, rx ${result.wireRxBytesPerDevice}), ${result.wireBytesPerPayloadByte} wire bytes per payload byte`,
          `peak requests/s    ${peaks}`,
          `rate-limited       ${result.rateLimitedAtService} request(s) refused by the service's ${LOCAL_IOT_MAX_RPS}/s limit`,
          "",
        ].join("\n"),
      );
      for (const f of result.failures)
        process.stdout.write(`failed: ${f.slot}: ${f.error?.code} ${f.error?.message}\n`);
    }
  } finally {
    await Promise.all([...twins, ...warmTwins].map((t) => t.stop()));
    await observer.close().catch(() => undefined);
    await manifest.close();
    await ledger.close();
    await target.close();
    await remote.stop();
    if (!values.keep) await rm(dir, { recursive: true, force: true });
    else log(`bench state kept in ${dir}`);
  }
}

if (process.argv[2] === "--serve-local-iot") {
  await serveLocalIot(process.argv[3] ?? join(tmpdir(), "provision-bench-iot"));
} else {
  await bench();
}
