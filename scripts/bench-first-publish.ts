/**
 * How soon a device publishes its first counter, on each kind of device the
 * tool runs without hardware: the twin and the idf-linux device (the ESP-IDF
 * port itself, per kit). Each run starts a fresh device, provisions it with
 * the real CLI against one local AWS IoT, and reads the JSON result's
 * `firstMessage`: `connectMs` (restart -> MQTT connected, seen by the
 * broker) and `firstPublishMs` (restart -> first counter seen by the
 * observer).
 *
 *   npm run bench:first-publish -- [--runs 10] [--kind twin|idf-linux] [--idf 5.5.5] [--key-type ec-p256] [--json]
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { startTwin } from "../src/twin/index.js";

const BIN = resolve("bin/provision.js");

function cli(
  args: string[],
  cwd: string,
): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => {
      stdout += d;
    });
    child.stderr.on("data", (d) => {
      stderr += d;
    });
    child.on("close", (status) => done({ status, stdout, stderr }));
  });
}

function quantile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      runs: { type: "string", default: "10" },
      kind: { type: "string", default: "twin" },
      idf: { type: "string" },
      "key-type": { type: "string", default: "ec-p256" },
      json: { type: "boolean", default: false },
    },
  });
  const runs = Number(values.runs);
  const idfLinux = values.kind === "idf-linux";
  const dir = mkdtempSync(join(tmpdir(), "bench-first-publish-"));
  // The devices keep the MQTT port they are given: one fixed port for every run's local AWS IoT.
  const mqttPort = 20_000 + Math.floor(Math.random() * 20_000);
  const samples: { connectMs: number; firstPublishMs: number }[] = [];
  try {
    for (let i = 0; i < runs; i++) {
      const device = await startTwin({
        stateDir: join(dir, `device-${i}`),
        ...(idfLinux ? { firmware: "idf-linux", idf: values.idf ? { kitVersion: values.idf } : {} } : {}),
      });
      try {
        const r = await cli(
          [
            "--port",
            device.port,
            "--local",
            "--local-ports",
            `0,${mqttPort},0`,
            "--local-state-dir",
            join(dir, "iot"),
            "--ledger",
            join(dir, "ledger.jsonl"),
            "--key-type",
            values["key-type"] ?? "ec-p256",
            "--json",
          ],
          dir,
        );
        if (r.status !== 0)
          throw new Error(`run ${i} failed (${r.status}): ${r.stderr.trim().split("\n").at(-1)}`);
        const { firstMessage } = JSON.parse(r.stdout) as {
          firstMessage: { connectMs: number; firstPublishMs: number };
        };
        samples.push({ connectMs: firstMessage.connectMs, firstPublishMs: firstMessage.firstPublishMs });
      } finally {
        await device.stop();
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const stat = (pick: (s: { connectMs: number; firstPublishMs: number }) => number) => {
    const v = samples.map(pick);
    return { p50: quantile(v, 0.5), p95: quantile(v, 0.95), max: Math.max(...v) };
  };
  const summary = {
    kind: idfLinux ? `idf-linux${values.idf ? ` v${values.idf}` : ""}` : "twin",
    keyType: values["key-type"],
    runs: samples.length,
    connectMs: stat((s) => s.connectMs),
    firstPublishMs: stat((s) => s.firstPublishMs),
    publishAfterConnectMs: stat((s) => s.firstPublishMs - s.connectMs),
  };
  if (values.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
  else {
    const row = (name: string, s: { p50: number; p95: number; max: number }) =>
      `${name.padEnd(26)} p50 ${s.p50} ms, p95 ${s.p95} ms, max ${s.max} ms`;
    process.stdout.write(
      [
        `${summary.kind}, ${summary.keyType}, ${summary.runs} runs:`,
        row("  restart -> connected", summary.connectMs),
        row("  restart -> first counter", summary.firstPublishMs),
        row("  connected -> first counter", summary.publishAfterConnectMs),
        "",
      ].join("\n"),
    );
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`${(e as Error).message}\n`);
  process.exit(1);
});
