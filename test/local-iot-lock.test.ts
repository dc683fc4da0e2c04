/**
 * One local AWS IoT per state directory: a second `provision local-iot` on
 * the same directory is refused naming the holder; `provision --local`
 * attaches to the running one instead of starting its own (so nothing it
 * registers is lost); a lock left by a killed process is taken over.
 */
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DescribeThingCommand, ListCertificatesCommand } from "@aws-sdk/client-iot";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LOCK_FILE, lockHolder } from "../src/local-iot/lock.js";
import { startLocalIot } from "../src/local-iot/service.js";
import { ensureTwinBuilt, startTwin, type Twin } from "../src/twin/index.js";
import { fixedMqttPort, runCli } from "./cli.test-helper.js";
import { iotClient, startLocalIotProcess } from "./local-iot-process.test-helper.js";

let dir: string;
const twins: Twin[] = [];

beforeAll(async () => {
  await ensureTwinBuilt();
  dir = await mkdtemp(join(tmpdir(), "iot-lock-"));
}, 60_000);

afterAll(async () => {
  await Promise.all(twins.map((t) => t.stop()));
  await rm(dir, { recursive: true, force: true });
});

describe("local AWS IoT lock", () => {
  it("a second `provision local-iot` on the same state dir fails naming the running one (pid and ports)", async () => {
    const stateDir = join(dir, "two");
    const first = await startLocalIotProcess(stateDir, { cwd: dir });
    try {
      const lock = JSON.parse(await readFile(join(stateDir, LOCK_FILE), "utf8"));
      expect(lock).toMatchObject({
        pid: first.pid,
        kind: "service",
        controlPlaneUrl: first.info.controlPlaneUrl,
      });
      const second = await runCli(["local-iot", "--state-dir", stateDir], { cwd: dir });
      expect(second.status, second.stderr).toBe(3);
      expect(second.stderr).toContain(`pid ${first.pid}`);
      expect(second.stderr).toContain(first.info.controlPlaneUrl);
      expect(second.stderr).toMatch(/attaches to it/);
      expect(second.stdout).toBe("");
    } finally {
      await first.kill("SIGTERM");
    }
  }, 60_000);

  it("an in-process instance refuses the directory too (same rule for the library)", async () => {
    const stateDir = join(dir, "in-process");
    const first = await startLocalIot({ stateDir });
    try {
      await expect(startLocalIot({ stateDir })).rejects.toThrow(/in use by `provision local-iot`, pid/);
    } finally {
      await first.stop();
    }
    const again = await startLocalIot({ stateDir });
    await again.stop();
  });

  it("a lock left by a killed process (SIGKILL) is taken over by the next start", async () => {
    const stateDir = join(dir, "stale");
    const crashed = await startLocalIotProcess(stateDir, { cwd: dir });
    expect((await crashed.kill("SIGKILL")).signal).toBe("SIGKILL");
    expect(JSON.parse(await readFile(join(stateDir, LOCK_FILE), "utf8")).pid).toBe(crashed.pid);
    expect(await lockHolder(stateDir)).toBeUndefined();
    const next = await startLocalIotProcess(stateDir, { cwd: dir });
    expect((await lockHolder(stateDir))?.pid).toBe(next.pid);
    await next.kill("SIGTERM");
  }, 60_000);

  it("a torn lock file (crash between create and write) does not block the directory", async () => {
    const stateDir = join(dir, "torn-lock");
    const first = await startLocalIot({ stateDir });
    await first.stop();
    await writeFile(join(stateDir, LOCK_FILE), '{"pid":');
    const next = await startLocalIot({ stateDir });
    expect((await lockHolder(stateDir))?.pid).toBe(process.pid);
    await next.stop();
  });
});

describe("`provision --local` next to a running `provision local-iot`", () => {
  it("attaches instead of starting its own: the registration is in the running service, which keeps running", async () => {
    const stateDir = join(dir, "shared");
    const mqttPort = fixedMqttPort();
    const service = await startLocalIotProcess(stateDir, { cwd: dir, mqttPort });
    const client = iotClient(service.info);
    try {
      const twin = await startTwin({ stateDir: join(dir, "twin-attach") });
      twins.push(twin);
      const r = await runCli(
        ["--port", twin.port, "--local", "--local-state-dir", stateDir, "--ledger", "attach.jsonl", "--json"],
        { cwd: dir },
      );
      expect(r.status, r.stderr).toBe(0);
      expect(r.stderr).toContain(
        `attached to the local AWS IoT already running on ${stateDir} (pid ${service.pid})`,
      );
      // The default --local-ports asks for 8883; the device was given the running service's port, and said so.
      expect(r.stderr).toMatch(new RegExp(`devices provisioned now get the running service's ${mqttPort}`));
      const result = JSON.parse(r.stdout);
      expect(result.endpoint).toBe(`127.0.0.1:${mqttPort}`);
      // Seen through the running service: nothing was written by a second instance behind its back.
      const thing = await client.send(new DescribeThingCommand({ thingName: result.thingName }));
      expect(thing.attributes?.deviceId).toBe(twin.deviceId);
      const certs = (await client.send(new ListCertificatesCommand({}))).certificates ?? [];
      expect(certs.map((c) => c.certificateId)).toContain(result.certificateId);
      expect((await lockHolder(stateDir))?.pid).toBe(service.pid);

      // A QA rig on the same state dir: verify attaches too and passes.
      const qa = await runCli(["verify", "--port", twin.port, "--local", "--local-state-dir", stateDir], {
        cwd: dir,
      });
      expect(qa.status, qa.stderr).toBe(0);
      expect(qa.stderr).toContain(`(pid ${service.pid})`);
    } finally {
      client.destroy();
      await service.kill("SIGTERM");
    }
  }, 90_000);

  it("a state dir held by another `provision --local` run is refused with a message naming it", async () => {
    const stateDir = join(dir, "embedded");
    const embedded = await startLocalIot({ stateDir, lockKind: "embedded" });
    const twin = await startTwin({ stateDir: join(dir, "twin-embedded") });
    twins.push(twin);
    try {
      const r = await runCli(["--port", twin.port, "--local", "--local-state-dir", stateDir], { cwd: dir });
      expect(r.status, r.stderr).toBe(3);
      expect(r.stderr).toContain(`a \`provision --local\` run, pid ${process.pid}`);
      expect(r.stderr).not.toMatch(/make or find the key/);
    } finally {
      await embedded.stop();
    }
  }, 60_000);
});
