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
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ledgerState } from "../src/ledger/index.js";
import type { Twin } from "../src/twin/index.js";
import { DEVICE_STATE, deviceStatus, runCli } from "./cli.test-helper.js";
import { auditLocalIot, type DeviceClaim, violations } from "./iot-audit.test-helper.js";
import { type ServiceFixture, serviceFixture } from "./local-iot-process.test-helper.js";
import { STEP_LINES as STEPS } from "./step-lines.test-helper.js";

type Tool = "provision" | "station";

let fx: ServiceFixture;

beforeAll(async () => {
  fx = await serviceFixture("kill-matrix-");
}, 60_000);

afterAll(async () => fx?.close());

function toolArgs(tool: Tool, port: string, name: string): string[] {
  const ledger = ["--ledger", join(fx.dir, `${name}.jsonl`), "--timeout", "20000"];
  return tool === "provision"
    ? ["--port", port, ...fx.local, ...ledger]
    : ["station", port, ...fx.local, ...ledger, "--manifest", join(fx.dir, `${name}-manifest`)];
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
  const findings = await auditLocalIot(fx.client, claims);
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
        const twin = await fx.twin(name, { lineRateBaud: 115_200 });
        const args = toolArgs(tool, twin.port, name);
        const killed = await runCli(args, { cwd: fx.dir, kill: { after: s[tool], signal } });
        expect(killed.stderr, "the step line never came").toMatch(s[tool]);
        // After the last step line the tool has almost nothing left to do (the station
        // prints one summary line), so on a loaded machine the run can end before the
        // signal reaches it, or the signal can land while the process is exiting (no
        // handler any more: it dies of the signal after its report). That is a finished
        // run, not a handled signal: the device committed, and the re-run below must hold.
        const reported = /^(provisioned|station \S+: 1 ok)/m.test(killed.stderr);
        const finishedFirst =
          s.step === "first publish" && (killed.status === 0 || (killed.signal === signal && reported));
        if (finishedFirst) {
          expect((await deviceStatus(twin.port)).state).toBe(DEVICE_STATE.PROVISIONED);
          expect((await ledgerState(join(fx.dir, `${name}.jsonl`))).openRuns).toEqual([]);
        } else if (signal === "SIGKILL") {
          expect(killed.signal).toBe("SIGKILL");
        } else {
          // Handled: the next safe point, rollback or finish, exit 143 (128 + SIGTERM).
          expect(killed.status, killed.stderr).toBe(143);
          const after = await deviceStatus(twin.port);
          const committed = after.state === DEVICE_STATE.PROVISIONED;
          if (s.committed !== "maybe") expect(committed).toBe(s.committed === "yes");
          const state = await ledgerState(join(fx.dir, `${name}.jsonl`));
          expect(state.openRuns.map((r) => r.run)).toEqual([]);
          // Rolled back: nothing of this device left live. Finished: it holds the one live certificate.
          await expectClean(committed ? [await claim(twin)] : []);
          if (!committed) {
            const held = state.runs.filter((r) => r.status !== "rolled-back" && r.status !== "abandoned");
            expect(held, JSON.stringify(state.runs)).toEqual([]);
          }
        }

        const again = await runCli(args, { cwd: fx.dir });
        expect(again.status, again.stderr).toBe(0);
        const device = await claim(twin);
        expect(device.certSha256, "the device holds committed credentials").toBeDefined();
        await expectClean([device]);
        expect((await ledgerState(join(fx.dir, `${name}.jsonl`))).openRuns).toEqual([]);
      }, 90_000);
    }
  }
});

describe("afterwards", () => {
  it("every device verifies (one station run over all of them) and the whole account audits clean", async () => {
    expect(fx.twins.length).toBe(2 * 2 * STEPS.length);
    const ports = fx.twins.map((t) => t.port);
    const r = await runCli(
      [
        "station",
        ...ports,
        ...fx.local,
        "--ledger",
        join(fx.dir, "final.jsonl"),
        "--manifest",
        join(fx.dir, "final"),
      ].concat(["--json", "--timeout", "30000"]),
      { cwd: fx.dir },
    );
    expect(r.status, r.stderr).toBe(0);
    const records = r.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { ok: boolean; outcome: string });
    expect(records).toHaveLength(fx.twins.length);
    expect(records.every((x) => x.ok && x.outcome === "verified")).toBe(true);
    const claims = await Promise.all(fx.twins.map(claim));
    const findings = await expectClean(claims);
    expect(findings.activeCertificates).toBe(fx.twins.length);
  }, 180_000);
});
