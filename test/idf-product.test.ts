/**
 * A product that is not the counter (test/fixtures/idf-product: a
 * "thermostat" publishing readings) adds the provision component through
 * its main/idf_component.yml only, builds for ESP-IDF's linux target with
 * both kits, and uses what provisioning left through the component's API:
 *
 * - embedded agent: the product runs the console beside itself; `provision
 *   --local --topic '{{thingName}}/telemetry'` provisions it and sees its
 *   first reading on its own topic; a `--force` rotation reaches the product
 *   as PROVISION_EVENT_CREDENTIALS_COMMITTED, and after the restart it
 *   publishes with the new key;
 * - credentials only: the provisioning firmware (the idf-linux device) is
 *   provisioned, then the program is swapped for the product's on the same
 *   flash (the state dir), which connects with the credentials and the key
 *   the provisioning firmware left and publishes.
 *
 * With a PSA key (ESP-IDF v6) the product signs each reading with the key id
 * the API gave it; the signature verifies with the registered certificate.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { verify } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureLinuxProjectBuilt } from "../src/firmware/idf-linux.js";
import { type LocalIot, startLocalIot } from "../src/local-iot/service.js";
import { type CloudTarget, targetForLocalIot } from "../src/provision/target.js";
import { runCli } from "./cli.test-helper.js";
import { IDF_LINUX_BUILD_TIMEOUT_MS, IDF_LINUX_KINDS } from "./device-kinds.test-helper.js";

const PRODUCT_DIR = resolve("test/fixtures/idf-product");
const TOPIC = "{{thingName}}/telemetry";
const FIRST_READING_TIMEOUT_MS = 20_000;

const dir = mkdtempSync(join(tmpdir(), "idf-product-"));
let iot: LocalIot;
let cloud: CloudTarget;

beforeAll(async () => {
  // One local AWS IoT for every run: the CLI attaches to it, and it stays up for the swapped program.
  iot = await startLocalIot({ stateDir: join(dir, "iot") });
  cloud = await targetForLocalIot(iot);
});
afterAll(async () => {
  await cloud?.close();
  await iot?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const provisionArgs = (port: string, ledger: string, extra: string[] = []) => [
  "--port",
  port,
  "--local",
  "--local-state-dir",
  join(dir, "iot"),
  "--ledger",
  join(dir, ledger),
  "--topic",
  TOPIC,
  "--json",
  ...extra,
];

interface Product {
  port: string;
  stderr: string[];
  /** Resolves when a stderr line matches (the product's ESP-IDF log). */
  logged(pattern: RegExp): Promise<string>;
  stop(): Promise<void>;
}

/** Starts a linux-target program with the idf-linux device's contract (one port line on stdout). */
async function startProgram(binary: string, stateDir: string): Promise<Product> {
  const child: ChildProcess = spawn(binary, ["--state-dir", stateDir, "--exit-with-parent", "--log-stderr"], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  const stderr: string[] = [];
  const waiters: { pattern: RegExp; done: (line: string) => void }[] = [];
  createInterface({ input: child.stderr as NodeJS.ReadableStream }).on("line", (line) => {
    stderr.push(line);
    for (const w of waiters.filter((x) => x.pattern.test(line))) {
      waiters.splice(waiters.indexOf(w), 1);
      w.done(line);
    }
  });
  const exited = new Promise<void>((done) => child.once("exit", () => done()));
  const first = await new Promise<string>((done, fail) => {
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).once("line", done);
    void exited.then(() => fail(new Error(`${binary} exited before its port line:\n${stderr.join("\n")}`)));
  });
  return {
    port: (JSON.parse(first) as { port: string }).port,
    stderr,
    logged: (pattern) =>
      new Promise((done) => {
        const seen = stderr.find((l) => pattern.test(l));
        if (seen) done(seen);
        else waiters.push({ pattern, done });
      }),
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      await exited;
    },
  };
}

interface Reading {
  product: string;
  reading: number;
  temperature_c: number;
  key: string;
  sig?: string;
}

/** The reading verifies with the thing's registered certificate when the product signed it (PSA key id). */
async function expectSignedByCertifiedKey(r: Reading, certificateId: string): Promise<void> {
  const cert = await cloud.registry.describeCertificate(certificateId);
  expect(r.sig, "a PSA key signs each reading").toMatch(/^[0-9a-f]+$/);
  const ok = verify(
    "sha256",
    Buffer.from(`reading:${r.reading}`),
    { key: cert?.certificatePem ?? "", dsaEncoding: "ieee-p1363" },
    Buffer.from(r.sig ?? "", "hex"),
  );
  expect(ok).toBe(true);
}

describe.each(IDF_LINUX_KINDS)("the thermostat product, $name", (kind) => {
  const kit = kind.idf ?? "";
  const keyKind = kit.startsWith("5.") ? "der" : "psa";
  const build = (variant?: string) =>
    ensureLinuxProjectBuilt({
      projectDir: PRODUCT_DIR,
      kitVersion: kit,
      ...(variant ? { variant, sdkconfigDefaults: ["sdkconfig.defaults", `sdkconfig.${variant}`] } : {}),
    });

  it(
    "adds the component by idf_component.yml only, runs the agent beside itself, publishes on its own topic, rotates, and passes verify",
    async () => {
      const { binary } = await build();
      const product = await startProgram(binary, join(dir, `agent-${kit}`));
      try {
        const run = await runCli(provisionArgs(product.port, `agent-${kit}.jsonl`), {
          cwd: dir,
          inheritEnv: true,
        });
        expect(run.status, run.stderr).toBe(0);
        const result = JSON.parse(run.stdout);
        expect(result.boardId).toBe("idf-linux");
        expect(result.firstMessage.topic).toBe(`${result.thingName}/telemetry`);
        const reading = JSON.parse(result.firstMessage.payload) as Reading;
        expect(reading).toMatchObject({
          product: "thermostat",
          reading: 0,
          temperature_c: 21.5,
          key: keyKind,
        });
        if (keyKind === "psa") await expectSignedByCertifiedKey(reading, result.certificateId);
        await product.logged(new RegExp(`thing ${result.thingName}, topic ${result.thingName}/telemetry`));

        // A rotation: COMMIT reaches the product as PROVISION_EVENT_CREDENTIALS_COMMITTED (2).
        const rotated = await runCli(provisionArgs(product.port, `agent-${kit}.jsonl`, ["--force"]), {
          cwd: dir,
          inheritEnv: true,
        });
        expect(rotated.status, rotated.stderr).toBe(0);
        const second = JSON.parse(rotated.stdout);
        expect(second.mode).toBe("rotated");
        expect(JSON.parse(second.firstMessage.payload)).toMatchObject({
          product: "thermostat",
          key: keyKind,
        });
        await product.logged(/provision event 2 \(generation 2\)/);
        if (keyKind === "psa")
          await expectSignedByCertifiedKey(JSON.parse(second.firstMessage.payload), second.certificateId);

        // QA on the product: verify restarts it and waits for its first message on the topic it reports.
        const checked = await runCli(
          ["verify", "--port", product.port, "--local", "--local-state-dir", join(dir, "iot"), "--json"],
          { cwd: dir, inheritEnv: true },
        );
        expect(checked.status, checked.stderr).toBe(0);
        const qa = JSON.parse(checked.stdout);
        expect(qa).toMatchObject({
          command: "verify",
          ok: true,
          thingName: second.thingName,
          topic: `${second.thingName}/telemetry`,
        });
        expect(JSON.parse(qa.firstMessage.payload)).toMatchObject({ product: "thermostat", reading: 0 });
      } finally {
        await product.stop();
      }
    },
    IDF_LINUX_BUILD_TIMEOUT_MS,
  );

  it(
    "credentials only: provisioned by the provisioning firmware, then swapped in, it connects with what was left",
    async () => {
      const { binary } = await build("credentials-only");
      await kind.build();
      const stateDir = join(dir, `swap-${kit}`);
      const firmware = await kind.start(stateDir);
      let result: { thingName: string; certificateId: string; firstMessage: { payload: string } };
      try {
        const run = await runCli(provisionArgs(firmware.port, `swap-${kit}.jsonl`), {
          cwd: dir,
          inheritEnv: true,
        });
        expect(run.status, run.stderr).toBe(0);
        result = JSON.parse(run.stdout);
        expect(JSON.parse(result.firstMessage.payload)).toEqual({ counter: 0 });
      } finally {
        await firmware.stop();
      }
      // The program is swapped; the flash (state dir) is not.
      const topic = `${result.thingName}/telemetry`;
      const observer = await cloud.openObserver();
      try {
        await observer.watch(result.thingName, topic);
        const product = await startProgram(binary, stateDir);
        try {
          const first = await observer.waitForFirstMessage(result.thingName, topic, FIRST_READING_TIMEOUT_MS);
          const reading = first.json as Reading;
          expect(reading).toMatchObject({ product: "thermostat", reading: 0, key: keyKind });
          if (keyKind === "psa") await expectSignedByCertifiedKey(reading, result.certificateId);
          // No console: the product never started the agent.
          expect(product.stderr.some((l) => /ready \(provision component/.test(l))).toBe(false);
          await product.logged(/key (der|psa) \(ec-p256\)/);
        } finally {
          await product.stop();
        }
      } finally {
        await observer.close();
      }
    },
    IDF_LINUX_BUILD_TIMEOUT_MS,
  );
});
