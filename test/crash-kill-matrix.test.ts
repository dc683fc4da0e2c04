/**
 * Crash consistency, shown by killing the real CLI: `provision` and
 * `provision station` are killed with SIGKILL (no chance to clean up) and
 * with SIGTERM (the signal policy: safe point, roll back or finish, exit 143)
 * just after each step line: key, CSR, register, credentials, commit, first
 * publish. Each device is then run again, and the local AWS IoT (a real
 * `provision local-iot` process both runs attach to) is audited through the
 * AWS SDK: exactly one ACTIVE certificate per thing, none loose, none
 * INACTIVE left attached, the device's committed certificate is that one.
 * At the end one station run verifies every device.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { IoTClient } from "@aws-sdk/client-iot";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ledgerState } from "../src/ledger/index.js";
import { ensureTwinBuilt, startTwin, type Twin } from "../src/twin/index.js";
import { DEVICE_STATE, deviceStatus, fixedMqttPort, runCli } from "./cli-helpers.js";
import { auditLocalIot, type DeviceClaim, violations } from "./iot-audit.js";
import { iotClient, type LocalIotProcess, startLocalIotProcess } from "./local-iot-process.js";
import { STEP_LINES as STEPS } from "./step-lines.js";

type Tool = "provision" | "station";

let dir: string;
let iot: LocalIotProcess;
let client: IoTClient;
let mqttPort: number;
const twins: Twin[] = [];

beforeAll(async () => {
  await ensureTwinBuilt();
  dir = await mkdtemp(join(tmpdir(), "kill-matrix-"));
  mqttPort = fixedMqttPort();
  iot = await startLocalIotProcess(join(dir, "iot"), { cwd: dir, mqttPort });
  client = iotClient(iot.info);
}, 60_000);

afterAll(async () => {
  await Promise.all(twins.map((t) => t.stop()));
  client?.destroy();
  await iot?.kill("SIGTERM");
  await rm(dir, { recursive: true, force: true });
});

function toolArgs(tool: Tool, port: string, name: string): string[] {
  const local = ["--local", "--local-state-dir", join(dir, "iot"), "--local-ports", `0,${mqttPort},0`];
  const ledger = ["--ledger", join(dir, `${name}.jsonl`), "--timeout", "20000"];
  return tool === "provision"
    ? ["--port", port, ...local, ...ledger]
    : ["station", port, ...local, ...ledger, "--manifest", join(dir, `${name}-manifest`)];
}

async function claim(twin: Twin): Promise<DeviceClaim> {
  const s = await deviceStatus(twin.port);
  return {
    deviceId: twin.deviceId,
    thingName: s.thingName,
    certSha256: s.state >= DEVICE_STATE.PROVISIONED ? s.certSha256?.toString("hex") : undefined,
  };
}

async function expectClean(claims: DeviceClaim[]) {
  const findings = await auditLocalIot(client, claims);
  expect(findings, JSON.stringify(findings)).toMatchObject({
    duplicates: [],
    loose: [],
    sharedActive: [],
    inactiveAttached: [],
    committedNotActive: [],
  });
  expect(violations(findings)).toBe(0);
  return findings;
}

describe.each<Tool>(["provision", "station"])("%s killed just after each step, then run again", (tool) => {
  for (const signal of ["SIGKILL", "SIGTERM"] as const) {
    for (const s of STEPS) {
      it(`${signal} after ${s.step}`, async () => {
        const name = `${tool}-${signal}-${s.step.replace(" ", "-")}`;
        // Paced like a UART at 115200: a signal that lands a little late still lands in the step after.
        const twin = await startTwin({ stateDir: join(dir, name), lineRateBaud: 115_200 });
        twins.push(twin);
        const args = toolArgs(tool, twin.port, name);
        const killed = await runCli(args, { cwd: dir, kill: { after: s[tool], signal } });
        expect(killed.stderr, "the step line never came").toMatch(s[tool]);
        if (signal === "SIGKILL") {
          expect(killed.signal).toBe("SIGKILL");
        } else {
          // Handled: the next safe point, rollback or finish, exit 143 (128 + SIGTERM).
          expect(killed.status, killed.stderr).toBe(143);
          const after = await deviceStatus(twin.port);
          const committed = after.state === DEVICE_STATE.PROVISIONED;
          if (s.committed !== "maybe") expect(committed).toBe(s.committed === "yes");
          const state = await ledgerState(join(dir, `${name}.jsonl`));
          expect(state.openRuns.map((r) => r.run)).toEqual([]);
          // Rolled back: nothing of this device left live. Finished: it holds the one live certificate.
          await expectClean(committed ? [await claim(twin)] : []);
          if (!committed) {
            const held = state.runs.filter((r) => r.status !== "rolled-back" && r.status !== "abandoned");
            expect(held, JSON.stringify(state.runs)).toEqual([]);
          }
        }

        const again = await runCli(args, { cwd: dir });
        expect(again.status, again.stderr).toBe(0);
        const device = await claim(twin);
        expect(device.certSha256, "the device holds committed credentials").toBeDefined();
        await expectClean([device]);
        expect((await ledgerState(join(dir, `${name}.jsonl`))).openRuns).toEqual([]);
      }, 90_000);
    }
  }
});

describe("afterwards", () => {
  it("every device verifies (one station run over all of them) and the whole account audits clean", async () => {
    expect(twins.length).toBe(2 * 2 * STEPS.length);
    const ports = twins.map((t) => t.port);
    const r = await runCli(
      [
        "station",
        ...ports,
        "--local",
        "--local-state-dir",
        join(dir, "iot"),
        "--local-ports",
        `0,${mqttPort},0`,
        "--ledger",
        join(dir, "final.jsonl"),
        "--manifest",
        join(dir, "final"),
        "--json",
        "--timeout",
        "30000",
      ],
      { cwd: dir },
    );
    expect(r.status, r.stderr).toBe(0);
    const records = r.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { ok: boolean; outcome: string });
    expect(records).toHaveLength(twins.length);
    expect(records.every((x) => x.ok && x.outcome === "verified")).toBe(true);
    const claims = await Promise.all(twins.map(claim));
    const findings = await expectClean(claims);
    expect(findings.activeCertificates).toBe(twins.length);
  }, 180_000);
});
