/**
 * One device, one ACTIVE certificate, whichever station or ledger ran it
 * (issue #21): a twin provisioned with ledger A and rotated with `--force`
 * using ledger B; another provisioned twin erased (flash wiped, same device
 * id: the base MAC is in eFuse) and provisioned again using ledger C, first
 * refused without consent, then with it. Each ledger knows only its own
 * runs; the cloud's word on the thing is what keeps the invariant. The real
 * binary against a `provision local-iot` process, audited through the AWS SDK.
 */
import { execFileSync } from "node:child_process";
import { cp, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import {
  AttachThingPrincipalCommand,
  CreateCertificateFromCsrCommand,
  DescribeCertificateCommand,
  ListThingPrincipalsCommand,
} from "@aws-sdk/client-iot";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTwin, type Twin } from "../src/twin/index.js";
import { DEVICE_STATE, deviceStatus, runCli } from "./cli.test-helper.js";
import { auditLocalIot, violations } from "./iot-audit.test-helper.js";
import { type ServiceFixture, serviceFixture } from "./local-iot-process.test-helper.js";

let fx: ServiceFixture;

beforeAll(async () => {
  fx = await serviceFixture("one-cert-");
}, 60_000);

afterAll(async () => fx?.close());

const provision = (port: string, ledger: string, extra: string[] = []) =>
  runCli(["--port", port, ...fx.local, "--ledger", join(fx.dir, ledger), "--json", ...extra], {
    cwd: fx.dir,
  });

/** Every certificate attached to the thing, with its status. */
async function onThing(thingName: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const principals = (await fx.client.send(new ListThingPrincipalsCommand({ thingName }))).principals ?? [];
  for (const arn of principals) {
    const id = arn.slice(arn.lastIndexOf("/") + 1);
    const d = await fx.client.send(new DescribeCertificateCommand({ certificateId: id }));
    out[id] = d.certificateDescription?.status ?? "?";
  }
  return out;
}

async function status(certificateId: string): Promise<string | undefined> {
  const d = await fx.client.send(new DescribeCertificateCommand({ certificateId }));
  return d.certificateDescription?.status;
}

/** The ledger's records of one event kind. */
async function recordsOf(ledger: string, event: string): Promise<Record<string, unknown>[]> {
  const text = await readFile(join(fx.dir, ledger), "utf8");
  return text
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l))
    .filter((r) => r.event === event);
}

/** The board's flash erased: a new state dir, the same device id (the chip's base MAC). */
async function erase(twin: Twin, name: string): Promise<Twin> {
  await twin.stop();
  const erased = await startTwin({ stateDir: join(fx.dir, name), deviceId: twin.deviceId });
  fx.twins.push(erased);
  return erased;
}

describe("one ACTIVE certificate per thing across ledgers", () => {
  it("ledger A provisions, ledger B rotates with --force, ledger C re-provisions an erased board: the SDK audit finds one ACTIVE certificate per thing and none loose", async () => {
    // A rotation at another station: its ledger (B) never saw the certificate ledger A registered.
    const t1 = await fx.twin("t1");
    const thing1 = `twin-${t1.deviceId}`;
    const a1 = await provision(t1.port, "a.jsonl");
    expect(a1.status, a1.stderr).toBe(0);
    const c1 = JSON.parse(a1.stdout).certificateId as string;

    const b1 = await provision(t1.port, "b.jsonl", ["--force"]);
    expect(b1.status, b1.stderr).toBe(0);
    const rotated = JSON.parse(b1.stdout);
    expect(rotated).toMatchObject({ mode: "rotated", retiredCertificateIds: [c1] });
    expect(rotated.retiredCertificates[0]).toMatchObject({ certificateId: c1, consent: "--force" });
    expect(b1.stderr).toMatch(
      new RegExp(`certificate ${c1} of thing ${thing1} is ACTIVE and no run of this ledger made it`),
    );
    expect(await onThing(thing1)).toEqual({ [rotated.certificateId]: "ACTIVE" });
    expect(await status(c1)).toBe("INACTIVE");
    // Ledger B says what it retired and why, by whose consent.
    const [found] = await recordsOf("b.jsonl", "found");
    expect(found).toMatchObject({ device: t1.deviceId, data: { certificateId: c1, consent: "--force" } });
    expect(await recordsOf("b.jsonl", "retired")).toHaveLength(1);

    // An erased board (same chip, flash wiped) at a rework bench with its own ledger (C).
    let t2 = await fx.twin("t2");
    const thing2 = `twin-${t2.deviceId}`;
    const a2 = await provision(t2.port, "a.jsonl");
    expect(a2.status, a2.stderr).toBe(0);
    const d1 = JSON.parse(a2.stdout).certificateId as string;
    t2 = await erase(t2, "t2-erased");
    expect((await deviceStatus(t2.port)).state).toBe(DEVICE_STATE.EMPTY);

    // Without consent: refused before anything is registered, naming the certificate and the flags.
    const refused = await provision(t2.port, "c.jsonl");
    expect(refused.status, refused.stderr).toBe(17);
    const error = JSON.parse(refused.stdout).error;
    expect(error).toMatchObject({ code: "DEVICE_MISMATCH", rolledBack: false, unknownCertificates: [d1] });
    expect(error.hint).toMatch(/--force or --retire-unknown-certificates/);
    expect(await onThing(thing2)).toEqual({ [d1]: "ACTIVE" });
    expect(await recordsOf("c.jsonl", "intent")).toEqual([]);

    const c2 = await provision(t2.port, "c.jsonl", ["--retire-unknown-certificates"]);
    expect(c2.status, c2.stderr).toBe(0);
    const again = JSON.parse(c2.stdout);
    expect(again).toMatchObject({ mode: "provisioned", retiredCertificateIds: [d1] });
    expect(again.retiredCertificates[0]).toMatchObject({ consent: "--retire-unknown-certificates" });
    expect(await onThing(thing2)).toEqual({ [again.certificateId]: "ACTIVE" });
    expect(await status(d1)).toBe("INACTIVE");

    // Ledger A still thinks it holds c1 and d1: a later run with it on either device retires nothing
    // live and mints nothing (both already INACTIVE), and says it verified.
    const verify = await provision(t1.port, "a.jsonl");
    expect(verify.status, verify.stderr).toBe(0);
    expect(JSON.parse(verify.stdout).mode).toBe("verified");
    expect(await onThing(thing1)).toEqual({ [rotated.certificateId]: "ACTIVE" });

    const claims = await Promise.all(
      [t1, t2].map(async (t) => {
        const s = await deviceStatus(t.port);
        return { deviceId: t.deviceId, thingName: s.thingName, certSha256: s.certSha256?.toString("hex") };
      }),
    );
    const findings = await auditLocalIot(fx.client, claims);
    expect(violations(findings), JSON.stringify(findings)).toBe(0);
    expect(findings.duplicates).toEqual([]);
    expect(findings.loose).toEqual([]);
    expect(findings.things).toBe(2);
    expect(findings.activeCertificates).toBe(2);
  }, 240_000);

  it("lost ledgers: `cleanup --thing` audits from the cloud, detaches what is INACTIVE, reports several ACTIVE until told which to keep; `provision` on the device settles them with consent", async () => {
    // A rotation killed right after COMMIT, then both ledgers lost: two ACTIVE certificates on the thing.
    const t3 = await fx.twin("t3");
    const thing3 = `twin-${t3.deviceId}`;
    const x = await provision(t3.port, "x.jsonl");
    expect(x.status, x.stderr).toBe(0);
    const old = JSON.parse(x.stdout).certificateId as string;
    const killed = await runCli(
      ["--port", t3.port, ...fx.local, "--ledger", join(fx.dir, "y.jsonl"), "--force"],
      { cwd: fx.dir, kill: { after: /✔ commit the credentials/, signal: "SIGKILL" } },
    );
    expect(killed.signal).toBe("SIGKILL");
    await rm(join(fx.dir, "x.jsonl"));
    await rm(join(fx.dir, "y.jsonl"));
    const both = await onThing(thing3);
    expect(Object.values(both)).toEqual(["ACTIVE", "ACTIVE"]);
    const fresh = Object.keys(both).find((id) => id !== old) as string;

    // A third certificate, made elsewhere (openssl, the SDK) and deactivated, but still attached.
    const stray = await strayCertificate(thing3);
    const audit = await cleanup(["--thing", thing3]);
    expect(audit.status, audit.stderr).toBe(17);
    const report = JSON.parse(audit.stdout);
    expect(report).toMatchObject({
      command: "cleanup",
      ok: false,
      outcome: "DEVICE_MISMATCH",
      thingsExamined: 1,
    });
    expect(report.things[0].retired).toEqual([
      { certificateId: stray, why: expect.stringMatching(/INACTIVE but still attached/) },
    ]);
    expect(report.things[0].undecided).toMatch(/2 ACTIVE certificates; only the device knows/);
    expect(await onThing(thing3)).toEqual(both);

    // The device knows: `provision` (a new ledger) verifies it, and retires the other only with consent.
    const kept = await provision(t3.port, "z.jsonl");
    expect(kept.status, kept.stderr).toBe(0);
    expect(JSON.parse(kept.stdout).keptCertificates).toEqual([
      { certificateId: old, why: expect.stringMatching(/no run of this ledger made it/) },
    ]);
    expect(kept.stderr).toMatch(/--retire-unknown-certificates/);
    expect(await onThing(thing3)).toEqual(both);
    const settled = await provision(t3.port, "z.jsonl", ["--retire-unknown-certificates"]);
    expect(settled.status, settled.stderr).toBe(0);
    expect(JSON.parse(settled.stdout)).toMatchObject({ mode: "verified", retiredCertificateIds: [old] });
    expect(await onThing(thing3)).toEqual({ [fresh]: "ACTIVE" });

    // Told which to keep (the operator read the device), cleanup retires the rest; then the line is clean.
    const t4 = await fx.twin("t4");
    const thing4 = `twin-${t4.deviceId}`;
    const p4 = await provision(t4.port, "w.jsonl");
    expect(p4.status, p4.stderr).toBe(0);
    const mine = JSON.parse(p4.stdout).certificateId as string;
    const other = await strayCertificate(thing4, "ACTIVE");
    const keep = await cleanup(["--thing", thing4, "--keep", mine]);
    expect(keep.status, keep.stderr).toBe(0);
    expect(JSON.parse(keep.stdout).things[0]).toMatchObject({
      kept: mine,
      retired: [{ certificateId: other }],
    });
    expect(await onThing(thing4)).toEqual({ [mine]: "ACTIVE" });
    const line = await cleanup(["--things", "twin-"]);
    expect(line.status, line.stderr).toBe(0);
    expect(JSON.parse(line.stdout)).toMatchObject({ ok: true, thingsExamined: 4 });
    expect(await recordsOf("repair.jsonl", "retired")).toHaveLength(2);
  }, 240_000);

  it("a key copied to a second device: refused (CSR_REJECTED) by the first device's ledger and by a new one; the first device's certificate stays the only one", async () => {
    const t5 = await fx.twin("t5");
    const thing5 = `twin-${t5.deviceId}`;
    const made = await runCli(["csr", "--port", t5.port], { cwd: fx.dir });
    expect(made.status, made.stderr).toBe(0);
    // The flash (key store) copied to another board: its own device id, the same key.
    await t5.stop();
    await cp(t5.stateDir, join(fx.dir, "t6-copy"), { recursive: true });
    const t6 = await startTwin({ stateDir: join(fx.dir, "t6-copy"), deviceId: "c0ffee000006" });
    const t5again = await startTwin({ stateDir: t5.stateDir, deviceId: t5.deviceId });
    fx.twins.push(t6, t5again);

    const first = await provision(t5again.port, "k.jsonl");
    expect(first.status, first.stderr).toBe(0);
    const c5 = JSON.parse(first.stdout).certificateId as string;

    const sameLedger = await provision(t6.port, "k.jsonl");
    expect(sameLedger.status, sameLedger.stderr).toBe(18);
    expect(JSON.parse(sameLedger.stdout).error).toMatchObject({
      code: "CSR_REJECTED",
      rolledBack: false,
      otherDevice: t5.deviceId,
    });
    expect(sameLedger.stderr).toMatch(/already the key of device/);

    const newLedger = await provision(t6.port, "k2.jsonl");
    expect(newLedger.status, newLedger.stderr).toBe(18);
    expect(JSON.parse(newLedger.stdout).error).toMatchObject({
      code: "CSR_REJECTED",
      otherThing: thing5,
      otherCertificate: c5,
    });
    expect(await recordsOf("k2.jsonl", "intent")).toEqual([]);

    expect(await onThing(thing5)).toEqual({ [c5]: "ACTIVE" });
    expect((await deviceStatus(t6.port)).state).not.toBe(DEVICE_STATE.PROVISIONED);
    const s5 = await deviceStatus(t5again.port);
    const findings = await auditLocalIot(fx.client, [
      { deviceId: t5.deviceId, thingName: s5.thingName, certSha256: s5.certSha256?.toString("hex") },
    ]);
    expect(violations(findings), JSON.stringify(findings)).toBe(0);
    expect(findings.loose).toEqual([]);
  }, 240_000);
});

const cleanup = (args: string[]) =>
  runCli(["cleanup", ...args, ...fx.local, "--ledger", join(fx.dir, "repair.jsonl"), "--json"], {
    cwd: fx.dir,
  });

/** A certificate made outside the tool (openssl CSR, the SDK), attached non-exclusively to the thing. */
async function strayCertificate(
  thingName: string,
  status: "ACTIVE" | "INACTIVE" = "INACTIVE",
): Promise<string> {
  const key = join(fx.dir, `stray-${thingName}.pem`);
  execFileSync("openssl", ["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", key]);
  const csr = execFileSync("openssl", ["req", "-new", "-key", key, "-subj", "/CN=stray"]).toString();
  const c = await fx.client.send(
    new CreateCertificateFromCsrCommand({ certificateSigningRequest: csr, setAsActive: status === "ACTIVE" }),
  );
  await fx.client.send(new AttachThingPrincipalCommand({ thingName, principal: c.certificateArn }));
  return c.certificateId as string;
}
