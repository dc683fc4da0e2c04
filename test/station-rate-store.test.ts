/**
 * The shared rate store from the station's side (issue #21): its password
 * never reaches argv (`ps`), and a Redis that dies while a device is being
 * registered cannot block the rollback: the rollback takes its turns in the
 * station alone and leaves nothing ACTIVE and unattached; the message names
 * the dead store in plain words and the hints agree. Real redis-server, a
 * local AWS IoT in this process, the real binary.
 */
import { execFileSync } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { describeForClients, type LocalIot, startLocalIot } from "../src/local-iot/service.js";
import { ensureTwinBuilt, startTwin } from "../src/twin/index.js";
import { runCli } from "./cli.test-helper.js";
import { auditLocalIot, violations } from "./iot-audit.test-helper.js";
import { iotClient, type LocalIotInfo } from "./local-iot-process.test-helper.js";
import { startRedis } from "./redis-server.test-helper.js";

const PASSWORD = "s3cret-Pw-91";

let dir: string;
let iot: LocalIot;
let infoFile: string;

beforeAll(async () => {
  await ensureTwinBuilt();
  dir = await mkdtemp(join(tmpdir(), "station-rate-store-"));
  iot = await startLocalIot({ stateDir: join(dir, "iot") });
  infoFile = join(dir, "local-iot.json");
  await writeFile(infoFile, JSON.stringify(describeForClients(iot)));
}, 60_000);

afterAll(async () => {
  await iot?.stop();
  await rm(dir, { recursive: true, force: true });
});

const stationArgs = (name: string, extra: string[]) => [
  "station",
  ...extra,
  "--local-iot-info",
  infoFile,
  "--ledger",
  join(dir, `${name}.jsonl`),
  "--manifest",
  join(dir, name),
];

describe("the rate store's password", () => {
  it("on the command line: refused (exit 2) before anything connects, the password not echoed", async () => {
    const r = await runCli(
      stationArgs("argv", ["--watch", "--rate-store", `redis://:${PASSWORD}@127.0.0.1:1`]),
      {
        cwd: dir,
      },
    );
    expect(r.status, r.stderr).toBe(2);
    expect(r.stderr).toMatch(
      /--rate-store redis:\/\/:\*\*\*@127\.0\.0\.1:1: a password on the command line is visible/,
    );
    expect(r.stderr).toMatch(/PROVISION_RATE_STORE or the config file's rateStore/);
    expect(r.stderr).not.toContain(PASSWORD);
  });

  it.each(["environment", "config file"])(
    "from the %s: the station connects, and `ps` never shows it",
    async (from) => {
      const redis = await startRedis({ password: PASSWORD });
      try {
        const url = `redis://:${PASSWORD}@127.0.0.1:${redis.port}`;
        const config = join(dir, `config-${from.replace(" ", "-")}.json`);
        await writeFile(config, JSON.stringify(from === "config file" ? { rateStore: url } : {}));
        const running = runCli(stationArgs(`ps-${from.replace(" ", "-")}`, ["--watch", "--config", config]), {
          cwd: dir,
          env: from === "environment" ? { PROVISION_RATE_STORE: url } : {},
          watch: {
            after: /station \S+: concurrency/,
            act: () => {
              const ps = execFileSync("ps", ["-eo", "pid,args", "--no-headers"]).toString();
              seen.push(ps);
              process.kill(Number(/^\s*(\d+) .*station --watch --config/m.exec(ps)?.[1]), "SIGINT");
            },
          },
        });
        const seen: string[] = [];
        const r = await running;
        expect(r.status, r.stderr).toBe(130);
        expect(r.stderr).toMatch(new RegExp(`budget shared through redis://127\\.0\\.0\\.1:${redis.port}`));
        expect(seen).toHaveLength(1);
        expect(seen[0]).toMatch(/station --watch --config/);
        expect(seen[0]).not.toContain(PASSWORD);
        expect(r.stderr).not.toContain(PASSWORD);
      } finally {
        await redis.stop();
      }
    },
    60_000,
  );
});

describe("a Redis that dies while a device is being registered", () => {
  it("the registration fails and rolls back without it: nothing ACTIVE and unattached, a plain message, hints that agree", async () => {
    const redis = await startRedis();
    const twin = await startTwin({ stateDir: join(dir, "twin-dead-redis") });
    // CreateCertificateFromCsr answers after 3 s: Redis is killed while it is in flight, so the next call
    // of the registration (DescribeThing) finds no shared budget, after the certificate exists.
    iot.setFaults({ operations: { CreateCertificateFromCsr: { latencyMs: 3000 } } });
    const issued = () => iot.stats().CreateCertificateFromCsr?.requests ?? 0;
    const before = issued();
    const watching = (async () => {
      while (issued() === before) await new Promise((r) => setTimeout(r, 20));
      await redis.kill();
    })();
    try {
      const r = await runCli(stationArgs("dead-redis", [twin.port, "--json"]), {
        cwd: dir,
        env: { PROVISION_RATE_STORE: redis.url },
        timeoutMs: 120_000,
      });
      await watching;
      expect(r.status, r.stderr).toBe(3);
      const device = JSON.parse(r.stdout.trim().split("\n")[0] ?? "{}");
      expect(device).toMatchObject({
        ok: false,
        rollback: "rolled-back",
        error: { code: "CONFIG", rolledBack: true },
      });
      expect(device.error.message).toMatch(
        new RegExp(
          `the shared rate store redis://127\\.0\\.0\\.1:${redis.port} cannot be reached \\((connection refused|the connection is gone)\\)`,
        ),
      );
      expect(device.error.message).not.toMatch(/maxRetriesPerRequest|ioredis|Reached the max/);
      expect(device.error.hint).toMatch(/rolled back without Redis/);
      // No line says a rollback is open or that cleanup is needed: it is not.
      expect(r.stderr).not.toMatch(/rollbacks are open|provision cleanup/);
      const client = iotClient(describeForClients(iot) as unknown as LocalIotInfo);
      try {
        const findings = await auditLocalIot(client, []);
        expect(violations(findings), JSON.stringify(findings)).toBe(0);
        expect(findings.activeCertificates).toBe(0);
      } finally {
        client.destroy();
      }
    } finally {
      iot.setFaults({});
      await twin.stop();
      await redis.stop();
    }
  }, 150_000);
});
