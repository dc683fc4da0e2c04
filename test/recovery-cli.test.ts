/**
 * Every ledger state a crash can leave has one recovery, applied by the next
 * run on the device or by `provision cleanup` (docs/reliability.md). Shown on
 * the real binary, against a `provision local-iot` process, audited through
 * the AWS SDK after each case.
 */
import { appendFile, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { DescribeCertificateCommand, ListThingPrincipalsCommand } from "@aws-sdk/client-iot";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ledgerState } from "../src/ledger/index.js";
import type { Twin } from "../src/twin/index.js";
import { type CliOptions, DEVICE_STATE, deviceStatus, runCli } from "./cli.test-helper.js";
import { startHoldingRelay } from "./holding-relay.test-helper.js";
import { auditLocalIot, violations } from "./iot-audit.test-helper.js";
import { type ServiceFixture, serviceFixture } from "./local-iot-process.test-helper.js";

let fx: ServiceFixture;

beforeAll(async () => {
  fx = await serviceFixture("recovery-");
}, 60_000);

afterAll(async () => fx?.close());

const provision = (port: string, ledger: string, extra: string[] = []) => [
  "--port",
  port,
  ...fx.local,
  "--ledger",
  join(fx.dir, ledger),
  ...extra,
];
const cleanup = (ledger: string, extra: string[] = []) => [
  "cleanup",
  "--ledger",
  join(fx.dir, ledger),
  ...fx.local,
  ...extra,
];
/**
 * A twin on a slow line (2400 baud): its answers take long enough that a kill
 * sent right after "✔ register" lands before COMMIT even on a loaded machine.
 */
const twin = (name: string) => fx.twin(name, { lineRateBaud: 2400 });
const cli = (args: string[], opts: Omit<CliOptions, "cwd"> = {}) => runCli(args, { cwd: fx.dir, ...opts });

/** Statuses of the certificates attached to a thing, by id. */
async function thingCertificates(thingName: string): Promise<Record<string, string>> {
  const principals = (await fx.client.send(new ListThingPrincipalsCommand({ thingName }))).principals ?? [];
  const out: Record<string, string> = {};
  for (const arn of principals) {
    const id = arn.slice(arn.lastIndexOf("/") + 1);
    const d = await fx.client.send(new DescribeCertificateCommand({ certificateId: id }));
    out[id] = d.certificateDescription?.status ?? "?";
  }
  return out;
}

async function auditClean(devices: Twin[]) {
  const claims = await Promise.all(
    devices.map(async (t) => {
      const s = await deviceStatus(t.port);
      return { deviceId: t.deviceId, thingName: s.thingName, certSha256: s.certSha256?.toString("hex") };
    }),
  );
  const findings = await auditLocalIot(fx.client, claims);
  expect(violations(findings), JSON.stringify(findings)).toBe(0);
}

describe("recovery of each ledger state", () => {
  it("a torn last ledger line: cleanup and the station read past it (kept aside), the device is finished", async () => {
    const t = await twin("torn");
    const killed = await cli(provision(t.port, "torn.jsonl"), {
      kill: { after: /✔ register /, signal: "SIGKILL" },
    });
    expect(killed.signal).toBe("SIGKILL");
    // A crash in the middle of the next append.
    const fragment = `{"v":1,"ts":"${new Date().toISOString()}","run":"0000","device":"${t.deviceId}","ev`;
    await appendFile(join(fx.dir, "torn.jsonl"), fragment);

    const c = await cli(cleanup("torn.jsonl"));
    expect(c.status, c.stderr).toBe(0);
    expect(c.stderr).toMatch(
      /a torn record \(\d+ bytes, a crash mid-write\) at the end of the ledger \(byte \d+\) was set aside in .*torn\.jsonl\.torn/,
    );
    expect(await readFile(join(fx.dir, "torn.jsonl.torn"), "utf8")).toContain(
      Buffer.from(fragment).toString("base64"),
    );

    const station = await cli([
      "station",
      t.port,
      ...fx.local,
      "--ledger",
      join(fx.dir, "torn.jsonl"),
      "--manifest",
      join(fx.dir, "torn-manifest"),
      "--json",
    ]);
    expect(station.status, station.stderr).toBe(0);
    expect(JSON.parse(station.stdout.trim())).toMatchObject({ ok: true, outcome: "provisioned" });
    expect(station.stderr).toMatch(/adopting it/);
    expect(Object.keys(await thingCertificates(`twin-${t.deviceId}`))).toHaveLength(1);
    await auditClean([t]);
  }, 120_000);

  it("a garbage last ledger line that ends in a newline: set aside, and the ledger goes on working (it used to break it for good)", async () => {
    const t = await fx.twin("garbage");
    const ledger = join(fx.dir, "garbage.jsonl");
    const first = await cli(provision(t.port, "garbage.jsonl", ["--force"]));
    expect(first.status, first.stderr).toBe(0);
    await appendFile(ledger, "#### edited by hand \u001b[2J\n");
    const c = await cli(cleanup("garbage.jsonl"));
    expect(c.status, c.stderr).toBe(0);
    expect(c.stderr).toMatch(
      /1 line\(s\) that are no ledger record \(\d+ bytes\) at the end of the ledger .* set aside in .*garbage\.jsonl\.torn/,
    );
    expect(await readFile(`${ledger}.torn`, "utf8")).toContain("edited by hand");
    // The next runs register, commit and record as before: a rotation, then a verification.
    const again = await cli(provision(t.port, "garbage.jsonl", ["--force", "--json"]));
    expect(again.status, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout).mode).toBe("rotated");
    await appendFile(ledger, "not json either\n");
    const station = await cli([
      "station",
      t.port,
      ...fx.local,
      "--ledger",
      ledger,
      "--manifest",
      join(fx.dir, "garbage-m"),
      "--json",
    ]);
    expect(station.status, station.stderr).toBe(0);
    expect(station.stderr).toMatch(/1 line\(s\) that are no ledger record/);
    expect((await ledgerState(ledger)).openRuns).toEqual([]);
    await auditClean([t]);
  }, 120_000);

  it("killed right after COMMIT: cleanup keeps the certificate and says the device may hold it; the next run records the COMMIT", async () => {
    const t = await twin("after-commit");
    const killed = await cli(provision(t.port, "after-commit.jsonl"), {
      kill: { after: /✔ commit the credentials/, signal: "SIGKILL" },
    });
    expect(killed.signal).toBe("SIGKILL");
    expect((await deviceStatus(t.port)).state).toBe(DEVICE_STATE.PROVISIONED);
    const c = await cli(cleanup("after-commit.jsonl"));
    expect(c.status, c.stderr).toBe(0);
    expect(c.stderr).not.toMatch(/never reached the device/);
    const certs = await thingCertificates(`twin-${t.deviceId}`);
    expect(Object.values(certs)).toEqual(["ACTIVE"]);

    const again = await cli(provision(t.port, "after-commit.jsonl", ["--json"]));
    expect(again.status, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout).mode).toBe("verified");
    const runs = (await ledgerState(join(fx.dir, "after-commit.jsonl"))).runs;
    expect(runs.map((r) => r.status)).toEqual(["committed"]);
    expect(await thingCertificates(`twin-${t.deviceId}`)).toEqual(certs);
    await auditClean([t]);
  }, 120_000);

  it("the port goes away with COMMIT's answer in flight: the registration is kept (commitUnknown), and the next run finds the device holds it", async () => {
    // Unpaced twin behind a relay that holds the device's answer to COMMIT (type 0x21): the twin has
    // committed, the tool has not heard, and then the relay's port disappears, as on a power cut or a
    // pulled cable. Rolling back here (as the tool once did) strands a device holding a deleted certificate.
    const t = await fx.twin("commit-cut");
    const relay = await startHoldingRelay(t.port, { holdType: 0x21 });
    let cut: Awaited<ReturnType<typeof cli>>;
    try {
      const running = cli(provision(relay.port, "commit-cut.jsonl", ["--json"]));
      await relay.holding;
      relay.stop();
      cut = await running;
    } finally {
      relay.stop();
    }
    expect([13, 14], cut.stderr).toContain(cut.status);
    const error = JSON.parse(cut.stdout).error;
    expect(error).toMatchObject({ rolledBack: false, commitUnknown: true });
    expect(error.hint).toMatch(/run provision again on this device/);
    expect(cut.stderr).not.toMatch(/rolling back/);
    expect((await deviceStatus(t.port)).state).toBe(DEVICE_STATE.PROVISIONED);
    const certs = await thingCertificates(`twin-${t.deviceId}`);
    expect(Object.values(certs)).toEqual(["ACTIVE"]);

    const again = await cli(provision(t.port, "commit-cut.jsonl", ["--json"]));
    expect(again.status, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout).mode).toBe("verified");
    expect(await thingCertificates(`twin-${t.deviceId}`)).toEqual(certs);
    await auditClean([t]);
  }, 120_000);

  it("cleanup --include-uncommitted retires a registration that never reached the device", async () => {
    const t = await twin("uncommitted");
    await cli(provision(t.port, "uncommitted.jsonl"), {
      kill: { after: /✔ register /, signal: "SIGKILL" },
    });
    const thing = `twin-${t.deviceId}`;
    expect(Object.values(await thingCertificates(thing))).toEqual(["ACTIVE"]);
    const kept = await cli(cleanup("uncommitted.jsonl", ["--json"]));
    expect(kept.status, kept.stderr).toBe(0);
    expect(JSON.parse(kept.stdout).uncommitted).toHaveLength(1);

    const retired = await cli(cleanup("uncommitted.jsonl", ["--include-uncommitted", "--json"]), {});
    expect(retired.status, retired.stderr).toBe(0);
    const report = JSON.parse(retired.stdout);
    expect(report.cleaned).toHaveLength(1);
    expect(report.uncommitted).toEqual([]);
    expect(await thingCertificates(thing).catch(() => ({}))).toEqual({});
    expect((await ledgerState(join(fx.dir, "uncommitted.jsonl"))).runs.map((r) => r.status)).toEqual([
      "rolled-back",
    ]);
    // The device still has its key and no credentials: the next run provisions it from scratch.
    const again = await cli(provision(t.port, "uncommitted.jsonl"));
    expect(again.status, again.stderr).toBe(0);
    await auditClean([t]);
  }, 120_000);

  it("a lost ledger: the next run finds the key's certificate in the cloud and adopts it instead of minting a second", async () => {
    const t = await twin("lost");
    await cli(provision(t.port, "lost-1.jsonl"), {
      kill: { after: /✔ register /, signal: "SIGKILL" },
    });
    const thing = `twin-${t.deviceId}`;
    const [first] = Object.keys(await thingCertificates(thing));
    await rm(join(fx.dir, "lost-1.jsonl"));
    const again = await cli(provision(t.port, "lost-2.jsonl", ["--json"]));
    expect(again.status, again.stderr).toBe(0);
    expect(again.stderr).toMatch(/found in the cloud: adopting it/);
    expect(JSON.parse(again.stdout)).toMatchObject({
      mode: "provisioned",
      certificateId: first,
      adopted: true,
    });
    expect(Object.keys(await thingCertificates(thing))).toEqual([first]);
    await auditClean([t]);
  }, 120_000);

  /** A provisioned device whose rotation (`--force`) is SIGKILLed at `after`; returns the old certificate. */
  async function interruptedRotation(name: string, after: RegExp) {
    const t = await twin(name);
    const first = await cli(provision(t.port, `${name}.jsonl`, ["--json"]));
    expect(first.status, first.stderr).toBe(0);
    const killed = await cli(provision(t.port, `${name}.jsonl`, ["--force"]), {
      kill: { after, signal: "SIGKILL" },
    });
    expect(killed.signal).toBe("SIGKILL");
    return { t, thing: `twin-${t.deviceId}`, old: JSON.parse(first.stdout).certificateId as string };
  }

  it("--force killed after COMMIT: the next run retires the superseded certificate (INACTIVE, detached)", async () => {
    const { t, thing, old } = await interruptedRotation("rotate", /✔ commit the credentials/);
    // The crash's window: both ACTIVE on the thing until someone finishes the rotation.
    expect(Object.values(await thingCertificates(thing))).toEqual(["ACTIVE", "ACTIVE"]);
    const again = await cli(provision(t.port, "rotate.jsonl", ["--json"]));
    expect(again.status, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({ mode: "verified", retiredCertificateIds: [old] });
    expect(Object.keys(await thingCertificates(thing))).not.toContain(old);
    const d = await fx.client.send(new DescribeCertificateCommand({ certificateId: old }));
    expect(d.certificateDescription?.status).toBe("INACTIVE");
    await auditClean([t]);
  }, 150_000);

  it("--force killed while waiting for the first publish: cleanup retires the superseded certificate", async () => {
    const { t, thing, old } = await interruptedRotation(
      "rotate-cleanup",
      /… restart and wait for the first publish/,
    );
    const c = await cli(cleanup("rotate-cleanup.jsonl", ["--json"]));
    expect(c.status, c.stderr).toBe(0);
    expect(JSON.parse(c.stdout).retired.map((r: { certificateId: string }) => r.certificateId)).toEqual([
      old,
    ]);
    expect(Object.keys(await thingCertificates(thing))).not.toContain(old);
    await auditClean([t]);
  }, 150_000);
});
