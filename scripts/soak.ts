/**
 * Soak: `npm run soak -- --runs N [--workers W] [--seed S] [--station-share F] [--audit-every K]
 * [--out FILE] [--json] [--keep]`.
 *
 * Provisions N fresh device twins with the real CLI against one local AWS
 * IoT (its own process, which every run attaches to), each run with one
 * random fault (scripts/soak/faults.ts): the tool SIGKILLed, SIGTERMed
 * (once, or twice to force it out) or SIGHUPed just after a step, the twin
 * power-cut there, the local AWS IoT crashed (SIGKILL) and restarted there,
 * throttling or 5xx (also after the call took effect) for the whole run, a
 * serial line that loses bytes, or another station's ledger having had the
 * device first (rotated here with --force, or met erased; maybe SIGKILLed). Then it runs the tool again until the
 * device is provisioned and audits that device's thing through the AWS SDK.
 * Every K runs (default 100), while nothing runs, and at the end, it audits the whole service; at the end it
 * also runs `provision cleanup` on every ledger. Faults that hit the shared
 * service (crash, throttling, 5xx) run alone, so each is counted against its
 * own fault.
 *
 * Exit status 0 when every device recovered and no audit found anything.
 */
import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { ensureTwinBuilt, startTwin, type Twin } from "../src/twin/index.js";
import { type CliOptions, deviceStatus, fixedMqttPort, localArgs, runCli } from "../test/cli.test-helper.js";
import {
  type AuditFindings,
  auditDevice,
  auditLocalIot,
  type DeviceClaim,
  violations,
} from "../test/iot-audit.test-helper.js";
import { iotClient } from "../test/local-iot-process.test-helper.js";
import { drawFault, type Fault, random, SERIAL_DROP_PPM } from "./soak/faults.js";
import { markdown, type RunRecord, type SoakReport } from "./soak/report.js";
import { SoakService } from "./soak/service.js";

// The SDK's notice about Node 22 would only clutter the soak's output.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";

const RERUNS_MAX = 5;
const CLI_TIMEOUT_MS = 180_000;
const SERVICE_WIDE = new Set(["local-iot-crash", "throttling", "server-errors"]);

const { values: args } = parseArgs({
  options: {
    runs: { type: "string", default: "50" },
    workers: { type: "string", default: "2" },
    seed: { type: "string" },
    "station-share": { type: "string", default: "0.25" },
    "audit-every": { type: "string", default: "100" },
    out: { type: "string" },
    json: { type: "boolean", default: false },
    keep: { type: "boolean", default: false },
  },
});
const RUNS = Number(args.runs);
const WORKERS = Number(args.workers);
const SEED = args.seed !== undefined ? Number(args.seed) : Math.floor(Math.random() * 2 ** 31);
const STATION_SHARE = Number(args["station-share"]);
const GLOBAL_AUDIT_EVERY = Number(args["audit-every"]);
if (
  ![RUNS, WORKERS, SEED, GLOBAL_AUDIT_EVERY].every(Number.isInteger) ||
  RUNS < 1 ||
  WORKERS < 1 ||
  GLOBAL_AUDIT_EVERY < 1 ||
  !(STATION_SHARE >= 0)
)
  throw new Error("usage: npm run soak -- --runs N [--workers W] [--seed S] [--station-share 0..1]");

/** Service-wide faults (and whole-service audits) run alone; everything else side by side. */
class Gate {
  private readers = 0;
  private writer = false;
  private writersWaiting = 0;
  private waiting: (() => void)[] = [];
  private wait = () => new Promise<void>((r) => this.waiting.push(r));
  private wake() {
    for (const w of this.waiting.splice(0)) w();
  }
  async shared<T>(fn: () => Promise<T>): Promise<T> {
    while (this.writer || this.writersWaiting > 0) await this.wait();
    this.readers++;
    try {
      return await fn();
    } finally {
      this.readers--;
      this.wake();
    }
  }
  async alone<T>(fn: () => Promise<T>): Promise<T> {
    this.writersWaiting++;
    while (this.writer || this.readers > 0) await this.wait();
    this.writersWaiting--;
    this.writer = true;
    try {
      return await fn();
    } finally {
      this.writer = false;
      this.wake();
    }
  }
}

const base = await mkdtemp(join(tmpdir(), "provision-soak-"));
const service = new SoakService(join(base, "iot"), fixedMqttPort());
const gate = new Gate();
const records: RunRecord[] = [];
/** The whole-service audits taken between runs: after how many runs, and how many violations. */
const interimAudits: { afterRuns: number; certificates: number; violations: number }[] = [];
const loads: number[] = [];
/** Each run's device flash (an erased board continues in a new one). */
const devices = new Map<number, string>();

function exitOf(r: { status: number | null; signal: NodeJS.Signals | null }): string {
  return r.signal ? r.signal : `exit ${r.status}`;
}

/** `ledger`: the worker's own (this station) unless named; `extra`: flags of this run. */
function toolArgs(
  tool: "provision" | "station",
  port: string,
  worker: number,
  options: { ledger?: string; extra?: string[] } = {},
): string[] {
  const common = [
    ...localArgs(service.stateDir, service.mqttPort),
    "--ledger",
    join(base, options.ledger ?? `ledger-${worker}.jsonl`),
    "--timeout",
    "30000",
    ...(options.extra ?? []),
  ];
  return tool === "provision"
    ? ["--port", port, ...common]
    : ["station", port, ...common, "--manifest", join(base, `manifest-${worker}`)];
}

/** The other station's ledger of a worker (the device's first provisioning in an another-ledger fault). */
const otherLedger = (worker: number) => `other-ledger-${worker}.jsonl`;

/** Flags every run of this device takes: an erased board is provisioned with consent to retire its old certificate. */
const consentFlags = (fault: Fault) =>
  fault.kind === "another-ledger" && fault.variant === "erase" ? ["--retire-unknown-certificates"] : [];

/**
 * another-ledger, before the faulty run: the device provisioned at "another
 * station" (its own ledger), then, for an erased board, its flash wiped
 * (a new state dir, the same device id). Returns the twin to go on with.
 */
async function atAnotherStation(fault: Fault, tool: "provision" | "station", twin: Twin, worker: number) {
  const first = await cli(toolArgs(tool, twin.port, worker, { ledger: otherLedger(worker) }));
  if (first.status !== 0)
    throw new Error(`the other station's run failed: ${exitOf(first)}: ${first.stderr.slice(-300)}`);
  if (fault.variant !== "erase") return twin;
  await twin.stop();
  return startTwin({ stateDir: `${twin.stateDir}-erased`, deviceId: twin.deviceId, lineRateBaud: 115_200 });
}

const cli = (argv: string[], extra: Partial<CliOptions> = {}) =>
  runCli(argv, { cwd: base, timeoutMs: CLI_TIMEOUT_MS, ...extra });

async function claimOf(twin: Twin): Promise<DeviceClaim> {
  const s = await deviceStatus(twin.port);
  return { deviceId: twin.deviceId, thingName: s.thingName, certSha256: s.certSha256?.toString("hex") };
}

/** The faulty run: the tool, hurt as the fault says. Returns the twin (a new one after a power cut). */
async function faultyRun(fault: Fault, tool: "provision" | "station", twin: Twin, worker: number) {
  const rotate = fault.kind === "another-ledger" && fault.variant === "rotate" ? ["--force"] : [];
  const argv = toolArgs(tool, twin.port, worker, { extra: [...rotate, ...consentFlags(fault)] });
  const line = fault.at?.[tool];
  let restarting: Promise<void> | undefined;
  const signal = {
    "sigkill-tool": "SIGKILL",
    "sigterm-tool": "SIGTERM",
    "sigterm-twice": "SIGTERM",
    "sighup-tool": "SIGHUP",
    "another-ledger": "SIGKILL",
  }[fault.kind as string] as NodeJS.Signals | undefined;
  if (fault.cloud) await service.setFaults(fault.cloud);
  const r = await cli(argv, {
    ...(signal && line ? { kill: { after: line, signal, again: fault.kind === "sigterm-twice" } } : {}),
    ...(fault.kind === "twin-power-cut" && line
      ? { watch: { after: line, act: () => void twin.kill("SIGKILL") } }
      : {}),
    ...(fault.kind === "local-iot-crash" && line
      ? { watch: { after: line, act: () => (restarting = service.restart()) } }
      : {}),
  });
  if (fault.cloud) await service.setFaults({});
  if (restarting) await restarting;
  if (fault.kind !== "twin-power-cut") return { first: r, twin };
  // Power back: the same flash, a new pty.
  await twin.kill("SIGKILL");
  return {
    first: r,
    twin: await startTwin({ stateDir: twin.stateDir, deviceId: twin.deviceId, lineRateBaud: 115_200 }),
  };
}

async function oneRun(run: number, worker: number): Promise<void> {
  const rng = random(SEED + run * 7919);
  const fault = drawFault(rng);
  const tool = rng() < STATION_SHARE ? "station" : "provision";
  const stateDir = join(base, "devices", `d${run}`);
  const noisy = fault.kind === "serial-drops" ? { dropPpm: SERIAL_DROP_PPM } : {};
  let twin = await startTwin({ stateDir, lineRateBaud: 115_200, ...noisy });
  devices.set(run, twin.stateDir);
  const record: RunRecord = {
    run,
    fault: fault.kind,
    tool,
    firstExit: "",
    reruns: 0,
    recovered: false,
    problems: [],
  };
  if (fault.at) record.at = fault.at.step;
  if (fault.variant) record.variant = fault.variant;
  try {
    if (fault.kind === "another-ledger") {
      twin = await atAnotherStation(fault, tool, twin, worker);
      devices.set(run, twin.stateDir);
    }
    const { first, twin: after } = await faultyRun(fault, tool, twin, worker);
    twin = after;
    record.firstExit = exitOf(first);
    // Whatever the fault left, the next run on the device must finish it (adopt, roll back) or, when the
    // faulty run got through, verify it.
    for (let i = 0; i < RERUNS_MAX; i++) {
      const again = await cli(toolArgs(tool, twin.port, worker, { extra: consentFlags(fault) }));
      record.reruns++;
      if (again.status === 0) {
        record.recovered = true;
        break;
      }
      if (i === RERUNS_MAX - 1)
        record.problems.push(`last rerun: ${exitOf(again)}: ${again.stderr.slice(-400)}`);
      await new Promise((r) => setTimeout(r, 1000));
    }
    const client = iotClient(service.info);
    try {
      record.problems = await auditDevice(client, await claimOf(twin));
    } finally {
      client.destroy();
    }
  } catch (e) {
    record.problems.push(`soak harness: ${(e as Error).message}`);
  } finally {
    await twin.stop();
  }
  records.push(record);
  const done = records.length;
  process.stderr.write(
    `[${done}/${RUNS}] run ${run} ${tool} ${fault.kind}${fault.variant ? ` (${fault.variant})` : ""}${fault.at ? ` after ${fault.at.step}` : ""}: first ${record.firstExit}, ${record.reruns} rerun(s), ${record.recovered ? "recovered" : "NOT RECOVERED"}${record.problems.length ? `, PROBLEMS: ${record.problems.join("; ")}` : ""}\n`,
  );
}

async function globalAudit(claims: DeviceClaim[]): Promise<AuditFindings> {
  const client = iotClient(service.info);
  try {
    const findings = await auditLocalIot(client, claims);
    process.stderr.write(
      `audit after ${records.length} runs: ${findings.certificates} certificates, ${violations(findings)} violations\n`,
    );
    if (violations(findings) > 0) process.stderr.write(`${JSON.stringify(findings)}\n`);
    return findings;
  } finally {
    client.destroy();
  }
}

async function finalCleanup(): Promise<SoakReport["finalCleanup"]> {
  const out = { cleaned: 0, retired: 0, uncommitted: 0, failed: 0 };
  const ledgers = Array.from({ length: WORKERS }, (_, w) => [`ledger-${w}.jsonl`, otherLedger(w)]).flat();
  for (const ledger of ledgers.filter((l) => existsSync(join(base, l)))) {
    const local = localArgs(service.stateDir, service.mqttPort);
    const r = await cli(["cleanup", "--ledger", join(base, ledger), ...local, "--json"]);
    const report = JSON.parse(r.stdout || "{}");
    out.cleaned += report.cleaned?.length ?? 0;
    out.retired += report.retired?.length ?? 0;
    out.uncommitted += report.uncommitted?.length ?? 0;
    out.failed += report.failed?.length ?? (r.status === 0 ? 0 : 1);
  }
  return out;
}

/** Every device's STATUS, from its flash (a twin started again on its state dir). */
async function allClaims(): Promise<DeviceClaim[]> {
  const claims: DeviceClaim[] = [];
  const runs = records.map((r) => r.run);
  for (let i = 0; i < runs.length; i += 8) {
    const batch = await Promise.all(
      runs.slice(i, i + 8).map(async (run) => {
        const twin = await startTwin({ stateDir: devices.get(run) ?? join(base, "devices", `d${run}`) });
        try {
          return await claimOf(twin);
        } finally {
          await twin.stop();
        }
      }),
    );
    claims.push(...batch);
  }
  return claims;
}

const started = Date.now();
const loadStart = loadavg();
const sampler = setInterval(() => loads.push(loadavg()[0] ?? 0), 10_000);
let report: SoakReport | undefined;
try {
  await ensureTwinBuilt();
  await service.start();
  process.stderr.write(`soak: ${RUNS} runs, ${WORKERS} workers, seed ${SEED}, state in ${base}\n`);
  let next = 0;
  await Promise.all(
    Array.from({ length: WORKERS }, async (_, worker) => {
      while (next < RUNS) {
        const run = next++;
        const peek = drawFault(random(SEED + run * 7919));
        const work = () => oneRun(run, worker);
        await (SERVICE_WIDE.has(peek.kind) ? gate.alone(work) : gate.shared(work));
        // Outside the run's own turn at the gate: an audit waits for every run in flight to end.
        if (records.length >= (interimAudits.length + 1) * GLOBAL_AUDIT_EVERY && records.length < RUNS)
          await gate.alone(async () => {
            if (records.length < (interimAudits.length + 1) * GLOBAL_AUDIT_EVERY) return;
            const f = await globalAudit([]);
            interimAudits.push({
              afterRuns: records.length,
              certificates: f.certificates,
              violations: violations(f),
            });
          });
      }
    }),
  );
  const finalCleanupResult = await finalCleanup();
  const finalAudit = await globalAudit(await allClaims());
  report = {
    command: `npm run soak -- --runs ${RUNS} --workers ${WORKERS} --seed ${SEED} --audit-every ${GLOBAL_AUDIT_EVERY}`,
    auditEvery: GLOBAL_AUDIT_EVERY,
    seed: SEED,
    runs: RUNS,
    workers: WORKERS,
    startedAt: new Date(started).toISOString(),
    durationS: Math.round((Date.now() - started) / 1000),
    machine: {
      cpus: cpus().length,
      loadavgStart: loadStart,
      loadavgEnd: loadavg(),
      loadSampledMean: loads.length ? loads.reduce((a, b) => a + b, 0) / loads.length : (loadavg()[0] ?? 0),
      loadSampledMax: Math.max(0, ...loads),
    },
    serviceRestarts: service.restarts,
    records: records.sort((a, b) => a.run - b.run),
    interimAudits,
    finalCleanup: finalCleanupResult,
    finalAudit,
  };
  if (args.out) await writeFile(args.out, `${JSON.stringify(report, null, 2)}\n`);
  process.stderr.write(`\n${markdown(report)}\n`);
  if (args.json) process.stdout.write(`${JSON.stringify(report)}\n`);
} finally {
  clearInterval(sampler);
  await service.stop();
  if (!args.keep) await rm(base, { recursive: true, force: true });
}
const bad =
  !report ||
  violations(report.finalAudit) > 0 ||
  report.records.some((r) => !r.recovered || r.problems.length > 0) ||
  report.finalCleanup.failed > 0 ||
  report.interimAudits.some((a) => a.violations > 0);
process.exit(bad ? 1 : 0);
