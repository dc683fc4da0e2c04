/**
 * The one signal policy, on the real binary: SIGINT, SIGTERM and SIGHUP stop
 * a command at its next safe point, roll back (or finish) and exit 130, 143
 * or 129; a second signal forces it out with the ledger whole; an interrupt
 * right after start touches nothing, not even the device's key.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { ListThingPrincipalsCommand } from "@aws-sdk/client-iot";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ledgerState } from "../src/ledger/index.js";
import { lockHolder } from "../src/local-iot/lock.js";
import { DEVICE_STATE, deviceState, runCli } from "./cli.test-helper.js";
import { startHoldingRelay } from "./holding-relay.test-helper.js";
import { auditLocalIot, violations } from "./iot-audit.test-helper.js";
import {
  type ServiceFixture,
  serviceFixture,
  startLocalIotProcess,
} from "./local-iot-process.test-helper.js";

let fx: ServiceFixture;

beforeAll(async () => {
  fx = await serviceFixture("signals-");
}, 60_000);

afterAll(async () => fx?.close());

/** `lineRateBaud`: a UART-paced twin, so the credentials take long enough to be interrupted. */
const twin = (name: string, lineRateBaud?: number) => fx.twin(name, lineRateBaud ? { lineRateBaud } : {});

const provisionArgs = (port: string, ledger: string) => [
  "--port",
  port,
  ...fx.local,
  "--ledger",
  join(fx.dir, ledger),
];

/** Certificates attached to the device's thing now; the whole service audits clean either way. */
async function certificatesOfThing(deviceId: string): Promise<string[]> {
  const findings = await auditLocalIot(fx.client, []);
  expect(violations(findings), JSON.stringify(findings)).toBe(0);
  const answer = await fx.client
    .send(new ListThingPrincipalsCommand({ thingName: `twin-${deviceId}` }))
    .catch(() => ({ principals: [] as string[] }));
  return answer.principals ?? [];
}

describe("Ctrl-C before key generation", () => {
  it("SIGINT while the tool is still starting: exit 130, the device never made a key", async () => {
    // The tool starts in tens of milliseconds: a signal right after the spawn lands while bin/provision.js
    // holds it (then 130) or, on a loaded machine, while Node itself is still starting (the default death,
    // before the tool's first line); nothing is touched either way.
    const t = await twin("early-start");
    const r = await runCli(provisionArgs(t.port, "early-start.jsonl"), {
      cwd: fx.dir,
      kill: { after: 20, signal: "SIGINT" },
    });
    if (r.signal === null) expect(r.status, r.stderr).toBe(130);
    else expect({ signal: r.signal, stderr: r.stderr }).toEqual({ signal: "SIGINT", stderr: "" });
    expect(r.stderr).not.toMatch(/✔ make or find the key/);
    expect(await deviceState(t.port)).toBe(DEVICE_STATE.EMPTY);
  }, 60_000);

  it("SIGINT as the device is met, before the cloud side has loaded: exit 130, no key, nothing registered", async () => {
    const t = await twin("early-hello");
    const r = await runCli(provisionArgs(t.port, "early-hello.jsonl"), {
      cwd: fx.dir,
      kill: { after: /… meet the device/, signal: "SIGINT" },
    });
    expect(r.status, r.stderr).toBe(130);
    expect(r.stderr).not.toMatch(/✔ make or find the key|✔ register/);
    expect(await deviceState(t.port)).toBe(DEVICE_STATE.EMPTY);
    expect(await certificatesOfThing(t.deviceId)).toEqual([]);
  }, 60_000);

  it("SIGINT while the device state is read: exit 130, GENERATE_KEY never sent", async () => {
    // A relay passes HELLO's answer and holds STATUS's until the tool has taken the signal, so the
    // signal surely lands while the state is read, however fast the twin or loaded the machine.
    const t = await twin("during-status");
    const relay = await startHoldingRelay(t.port, { passFrames: 1 });
    try {
      const r = await runCli(provisionArgs(relay.port, "during-status.jsonl"), {
        cwd: fx.dir,
        kill: { after: /… read the device state/, signal: "SIGINT" },
        watch: { after: /interrupted: finishing or rolling back/, act: () => relay.release() },
      });
      expect(r.status, r.stderr).toBe(130);
      expect(r.stderr).toMatch(/interrupted: finishing or rolling back what is in flight \(SIGINT/);
      expect(r.stderr).not.toMatch(/make or find the key/);
      // The signal landed while STATUS was unanswered: the step ends only after it.
      const interruptedAt = r.stderr.indexOf("interrupted: finishing");
      expect(interruptedAt).toBeGreaterThan(r.stderr.indexOf("… read the device state"));
      expect(r.stderr.indexOf("✔ read the device state", interruptedAt)).not.toBe(-1);
    } finally {
      relay.stop();
    }
    expect(await deviceState(t.port)).toBe(DEVICE_STATE.EMPTY);
  }, 60_000);
});

describe("SIGTERM and SIGHUP roll back", () => {
  it("SIGTERM right after registration: exit 143, the registration is rolled back, nothing committed", async () => {
    const t = await twin("term-register", 19_200);
    const r = await runCli(provisionArgs(t.port, "term-register.jsonl"), {
      cwd: fx.dir,
      kill: { after: /✔ register /, signal: "SIGTERM" },
    });
    expect(r.status, r.stderr).toBe(143);
    expect(r.stderr).toMatch(/interrupted: finishing or rolling back what is in flight \(SIGTERM/);
    expect(r.stderr).toMatch(/rolling back twin-[0-9a-f]{12}: interrupted by SIGTERM/);
    // Staged credentials are not committed ones: the device discards them at its next boot.
    expect([DEVICE_STATE.KEYED, DEVICE_STATE.STAGED]).toContain(await deviceState(t.port));
    expect(await certificatesOfThing(t.deviceId)).toEqual([]);
    const state = await ledgerState(join(fx.dir, "term-register.jsonl"));
    expect(state.runs.map((x) => x.status)).toEqual(["rolled-back"]);
  }, 60_000);

  it("SIGHUP (terminal closed) mid-registration: exit 129, nothing left registered", async () => {
    const t = await twin("hup");
    const r = await runCli(provisionArgs(t.port, "hup.jsonl"), {
      cwd: fx.dir,
      kill: { after: /… register /, signal: "SIGHUP" },
    });
    expect(r.status, r.stderr).toBe(129);
    expect(await certificatesOfThing(t.deviceId)).toEqual([]);
    expect((await ledgerState(join(fx.dir, "hup.jsonl"))).openRuns).toEqual([]);
  }, 60_000);

  it("stderr closed (`provision ... 2>&1 | head` exiting) right after registration: treated like SIGHUP, rolled back, exit 129", async () => {
    const t = await twin("epipe-stderr", 19_200);
    const r = await runCli([...provisionArgs(t.port, "epipe-stderr.jsonl"), "--json"], {
      cwd: fx.dir,
      closeOutput: { after: /✔ register /, stream: "stderr" },
    });
    expect(r.status, r.stdout).toBe(129);
    const error = JSON.parse(r.stdout).error;
    expect(error).toMatchObject({ code: "INTERRUPTED", signal: "SIGHUP", rolledBack: true });
    expect(error.message).toMatch(/stderr was closed \(EPIPE\), as when the terminal goes away/);
    expect(await certificatesOfThing(t.deviceId)).toEqual([]);
    expect((await ledgerState(join(fx.dir, "epipe-stderr.jsonl"))).runs.map((x) => x.status)).toEqual([
      "rolled-back",
    ]);
  }, 60_000);

  it("stdout closed (a --json reader gone): the job finishes, says so on stderr, and exits 129", async () => {
    const t = await twin("epipe-stdout", 19_200);
    const r = await runCli([...provisionArgs(t.port, "epipe-stdout.jsonl"), "--json"], {
      cwd: fx.dir,
      closeOutput: { after: /… register /, stream: "stdout" },
    });
    // Nothing goes to stdout before the result object: the EPIPE comes after the device committed.
    expect(r.status, r.stderr).toBe(129);
    expect(r.stderr).toMatch(/interrupted: stdout was closed \(EPIPE\)/);
    expect(await deviceState(t.port)).toBe(DEVICE_STATE.PROVISIONED);
    expect(await certificatesOfThing(t.deviceId)).toHaveLength(1);
    expect((await ledgerState(join(fx.dir, "epipe-stdout.jsonl"))).openRuns).toEqual([]);
  }, 60_000);

  it("a second SIGTERM forces the exit; every ledger line is whole and the next run finishes the job", async () => {
    const t = await twin("twice");
    const ledger = join(fx.dir, "twice.jsonl");
    const r = await runCli(provisionArgs(t.port, "twice.jsonl"), {
      cwd: fx.dir,
      kill: { after: /… register /, signal: "SIGTERM", again: true },
    });
    expect(r.status, r.stderr).toBe(143);
    const text = await readFile(ledger, "utf8").catch(() => "");
    for (const line of text.split("\n").filter((l) => l !== "")) expect(() => JSON.parse(line)).not.toThrow();
    const again = await runCli(provisionArgs(t.port, "twice.jsonl"), { cwd: fx.dir });
    expect(again.status, again.stderr).toBe(0);
    expect(await certificatesOfThing(t.deviceId)).toHaveLength(1);
    expect((await ledgerState(ledger)).openRuns).toEqual([]);
  }, 90_000);
});

describe("the long commands that only wait", () => {
  it("`provision local-iot` stops on SIGTERM with exit 143 and releases its state dir", async () => {
    const stateDir = join(fx.dir, "iot-term");
    const service = await startLocalIotProcess(stateDir, { cwd: fx.dir });
    expect((await lockHolder(stateDir))?.pid).toBe(service.pid);
    expect(await service.kill("SIGTERM")).toEqual({ status: 143, signal: null });
    expect(await lockHolder(stateDir)).toBeUndefined();
  }, 60_000);

  it("`provision sim` stops its twins on SIGHUP with exit 129", async () => {
    const r = await runCli(["sim", "--state-dir", join(fx.dir, "sim")], {
      cwd: fx.dir,
      kill: { after: /twin\(s\) running/, signal: "SIGHUP" },
    });
    expect(r.status, r.stderr).toBe(129);
    expect(r.stdout).toMatch(/^\/dev\/pts\/\d+\n$/);
  }, 60_000);

  it("`provision verify` interrupted while it waits: exit 130, the device untouched", async () => {
    const t = await twin("verify");
    const first = await runCli(provisionArgs(t.port, "verify.jsonl"), { cwd: fx.dir });
    expect(first.status, first.stderr).toBe(0);
    const args = ["verify", "--port", t.port, ...fx.local];
    const r = await runCli(args, { cwd: fx.dir, kill: { after: /✔ read its identity/, signal: "SIGINT" } });
    expect(r.status, r.stderr).toBe(130);
    expect(await deviceState(t.port)).toBe(DEVICE_STATE.PROVISIONED);
  }, 90_000);
});
