/**
 * One writer per ledger, on the real binary: a station and a `cleanup`
 * started on the ledger of a `provision` that is registering a device (its
 * run open in the ledger) wait for it (or refuse at once with
 * `--ledger-wait 0`), naming it; neither rolls the live run back or deletes
 * its certificate. Before the lock, the cleanup judged the live run
 * interrupted and deleted its certificate (the live run then failed with
 * ResourceNotFound, exit 24).
 */
import { join } from "node:path";
import { DescribeCertificateCommand, ListThingPrincipalsCommand } from "@aws-sdk/client-iot";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ledgerState } from "../src/ledger/index.js";
import { type CliRun, deviceStatus, runCli } from "./cli.test-helper.js";
import { auditLocalIot, violations } from "./iot-audit.test-helper.js";
import { type ServiceFixture, serviceFixture } from "./local-iot-process.test-helper.js";

let fx: ServiceFixture;

/**
 * AttachThingPrincipal answers after 15 s: the live run is mid-registration (an open run in its ledger,
 * which a cleanup without the lock would roll back) for that long, however slowly the others start.
 */
const SLOW_ATTACH = { operations: { AttachThingPrincipal: { latencyMs: 15_000 } } };

beforeAll(async () => {
  fx = await serviceFixture("ledger-lock-", { PROVISION_LOCAL_IOT_FAULTS: JSON.stringify(SLOW_ATTACH) });
}, 60_000);

afterAll(async () => fx?.close());

const cli = (args: string[]) => runCli(args, { cwd: fx.dir });

describe("a second process on a live run's ledger", () => {
  it("cleanup refuses (--ledger-wait 0) or waits, a station waits, naming the holder; the live run keeps its certificate", async () => {
    const t = await fx.twin("live");
    const ledger = join(fx.dir, "shared.jsonl");
    const others: Promise<CliRun>[] = [];
    const live = runCli(["--port", t.port, ...fx.local, "--ledger", ledger, "--json"], {
      cwd: fx.dir,
      watch: {
        after: /… register /,
        act: () => {
          others.push(cli(["cleanup", "--ledger", ledger, ...fx.local, "--ledger-wait", "0", "--json"]));
          others.push(cli(["cleanup", "--ledger", ledger, ...fx.local, "--json"]));
          others.push(
            cli([
              "station",
              t.port,
              ...fx.local,
              "--ledger",
              ledger,
              "--manifest",
              join(fx.dir, "m"),
              "--json",
            ]),
          );
        },
      },
    });
    const run = await live;
    expect(run.status, run.stderr).toBe(0);
    const result = JSON.parse(run.stdout);
    expect(result.mode).toBe("provisioned");
    const [refused, waited, station] = await Promise.all(others);
    if (!refused || !waited || !station) throw new Error("the others never started");

    // Refused at once, naming the live process.
    expect(refused.status, refused.stderr).toBe(3);
    const error = JSON.parse(refused.stdout).error;
    expect(error.message).toMatch(/ledger .*shared\.jsonl is in use by pid \d+ on .* \(provision --port /);
    expect(error.ledgerHolder.command).toContain(`--port ${t.port}`);

    // Waited, said so, then found nothing to do: the run had finished.
    expect(waited.status, waited.stderr).toBe(0);
    expect(waited.stderr).toMatch(/is in use by pid \d+ .*: waiting up to 120 s for it/);
    expect(JSON.parse(waited.stdout)).toMatchObject({ cleaned: [], failed: [] });

    // The station waited too, then verified the device instead of touching its registration.
    expect(station.status, station.stderr).toBe(0);
    expect(station.stderr).toMatch(/is in use by pid \d+/);
    expect(JSON.parse(station.stdout.trim().split("\n")[0] ?? "{}")).toMatchObject({
      ok: true,
      outcome: "verified",
    });

    // The live run's certificate is the device's, ACTIVE, on its thing; the ledger has nothing open.
    const thing = `twin-${t.deviceId}`;
    const principals = (await fx.client.send(new ListThingPrincipalsCommand({ thingName: thing })))
      .principals;
    expect(principals).toEqual([result.certificateArn]);
    const d = await fx.client.send(new DescribeCertificateCommand({ certificateId: result.certificateId }));
    expect(d.certificateDescription?.status).toBe("ACTIVE");
    const state = await ledgerState(ledger);
    expect(state.openRuns).toEqual([]);
    expect(state.runs.filter((r) => r.status === "rolled-back")).toEqual([]);
    const s = await deviceStatus(t.port);
    const findings = await auditLocalIot(fx.client, [
      { deviceId: t.deviceId, thingName: s.thingName, certSha256: s.certSha256?.toString("hex") },
    ]);
    expect(violations(findings), JSON.stringify(findings)).toBe(0);
  }, 180_000);
});
