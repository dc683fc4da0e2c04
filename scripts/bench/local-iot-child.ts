/**
 * The benchmark's local AWS IoT in a process of its own (so its CPU is
 * counted apart and it does not share the station's event loop): the child
 * side serves it and reports stats, peaks and CPU on request; the parent
 * side starts it and asks.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { IOT_RATE_QUOTAS, IOT_RATE_UNLISTED_TPS } from "../../src/cloud/iot-quotas.js";
import type { FaultConfig } from "../../src/local-iot/faults.js";
import { startLocalIot } from "../../src/local-iot/service.js";
import type { LocalIotEndpoints } from "../../src/provision/target.js";
import { sampleRequestRates } from "../../src/station/request-rates.js";

/** The service's limits: Q for every operation, or AWS's defaults per operation. */
function serviceLimits(quota: number | undefined): FaultConfig {
  if (quota !== undefined) return { default: { maxRps: quota } };
  return {
    default: { maxRps: IOT_RATE_UNLISTED_TPS },
    operations: Object.fromEntries(IOT_RATE_QUOTAS.map((q) => [q.operation, { maxRps: q.tps }])),
  };
}

/** Child mode: run the service, report its facts, answer "report" with stats, peaks and CPU. */
export async function serveLocalIot(stateDir: string, quota: number | undefined): Promise<void> {
  const iot = await startLocalIot({ stateDir, faults: serviceLimits(quota) });
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

export interface RemoteIot {
  iot: LocalIotEndpoints;
  request(cmd: "start" | "report"): Promise<Record<string, unknown> | undefined>;
  stop(): Promise<void>;
}

/** Starts `script --serve-local-iot` (the benchmark itself) and talks to it over stdin/stdout. */
export async function startRemoteIot(
  script: string,
  stateDir: string,
  quota: number | undefined,
): Promise<RemoteIot> {
  const child: ChildProcess = spawn(
    process.execPath,
    [
      ...process.execArgv,
      script,
      "--serve-local-iot",
      stateDir,
      ...(quota === undefined ? [] : [String(quota)]),
    ],
    {
      stdio: ["pipe", "pipe", "inherit"],
    },
  );
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  const waiting: ((line: string) => void)[] = [];
  lines.on("line", (l) => waiting.shift()?.(l));
  const next = () => new Promise<string>((done) => waiting.push(done));
  // The target only reads these facts; stats live in the child and come back through request().
  const iot = JSON.parse(await next()) as LocalIotEndpoints;
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
