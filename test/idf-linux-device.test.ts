/**
 * The idf-linux device as a user meets it, on ESP-IDF v5 and v6:
 * `provision firmware build --board idf-linux` (cached), then
 * `provision sim --board idf-linux` and `provision --port P --local` for
 * every key type (the twin: P-256 and RSA-2048), the same as with a twin: all end with
 * {"counter": 0}, the first counter within 2 s of the MQTT connect. A
 * `--force` rotation on the idf-linux device retires the old certificate
 * once the new one publishes.
 */
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startLocalIot } from "../src/local-iot/service.js";
import { targetForLocalIot } from "../src/provision/target.js";
import { fixedMqttPort, localArgs, runCli } from "./cli.test-helper.js";
import { DEVICE_KINDS, IDF_LINUX_BUILD_TIMEOUT_MS, IDF_LINUX_KINDS } from "./device-kinds.test-helper.js";

const dir = mkdtempSync(join(tmpdir(), "idf-linux-device-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const cli = (args: string[]) => runCli(args, { cwd: dir, inheritEnv: true });
const slug = (s: string) => s.replace(/\W+/g, "-");

/** First-publish timing of the result: the device publishes counter 0 as soon as it is connected. */
const FIRST_PUBLISH_AFTER_CONNECT_MS_MAX = 2_000;

describe.each(IDF_LINUX_KINDS)("$name firmware build", (kind) => {
  it(
    "builds once and is then up to date without touching the binary",
    async () => {
      const first = await cli(["firmware", "build", "--board", "idf-linux", "--idf", kind.idf ?? ""]);
      expect(first.status, first.stderr).toBe(0);
      const binary = first.stdout.trim();
      expect(binary).toMatch(/provision-idf-linux\.elf$/);
      const before = statSync(binary).mtimeMs;

      const second = await cli(["firmware", "build", "--board", "idf-linux", "--idf", kind.idf ?? ""]);
      expect(second.status, second.stderr).toBe(0);
      expect(second.stdout.trim()).toBe(binary);
      expect(second.stderr).toMatch(/up to date: the idf-linux device with ESP-IDF v\d/);
      expect(statSync(binary).mtimeMs).toBe(before);
    },
    IDF_LINUX_BUILD_TIMEOUT_MS,
  );
});

/** Every key type on the ESP-IDF port; the twin (covered at length elsewhere) with the two common ones. */
const keyTypesOf = (kind: { name: string }) =>
  kind.name === "twin" ? ["ec-p256", "rsa-2048"] : ["ec-p256", "ec-p384", "rsa-2048", "rsa-3072"];

describe.each(DEVICE_KINDS.flatMap((kind) => keyTypesOf(kind).map((keyType) => ({ kind, keyType }))))(
  "$kind.name, $keyType: provision sim + provision --local",
  ({ kind, keyType }) => {
    beforeAll(() => kind.build(), IDF_LINUX_BUILD_TIMEOUT_MS);

    it('ends with {"counter": 0}, published within 2 s of the connect', async () => {
      const name = slug(`${kind.name}-${keyType}`);
      const sim = await runCli(["sim", ...kind.simArgs, "--state-dir", join(dir, name), "--json"], {
        cwd: dir,
        inheritEnv: true,
        untilLine: true,
      });
      try {
        const [device] = JSON.parse(sim.stdout.split("\n")[0] ?? "[]") as {
          port: string;
          deviceId: string;
        }[];
        expect(device?.port).toMatch(/^\/dev\/pts\/\d+$/);
        const run = await cli([
          "--port",
          device?.port ?? "",
          ...localArgs(join(dir, `${name}-iot`)),
          "--ledger",
          join(dir, `${name}.jsonl`),
          "--key-type",
          keyType,
          "--json",
        ]);
        expect(run.status, run.stderr).toBe(0);
        const result = JSON.parse(run.stdout);
        expect(result.ok).toBe(true);
        expect(result.mode).toBe("provisioned");
        expect(result.deviceId).toBe(device?.deviceId);
        expect(result.boardId).toBe(kind.name === "twin" ? "twin" : "idf-linux");
        expect(result.keyType).toBe(keyType);
        expect(JSON.parse(result.firstMessage.payload)).toEqual({ counter: 0 });
        expect(result.firstMessage.firstPublishMs).toBeLessThan(2_000);
        expect(result.firstMessage.firstPublishMs - result.firstMessage.connectMs).toBeLessThan(
          FIRST_PUBLISH_AFTER_CONNECT_MS_MAX,
        );
      } finally {
        sim.interrupt();
        expect(await sim.exited).toBe(130); // Ctrl-C: the devices stopped, exit 130 (docs/reliability.md)
      }
    }, 90_000);
  },
);

describe.each(IDF_LINUX_KINDS)("$name --force", (kind) => {
  beforeAll(() => kind.build(), IDF_LINUX_BUILD_TIMEOUT_MS);

  it("rotates key and certificate; the old certificate goes INACTIVE once the new one publishes", async () => {
    const name = slug(`${kind.name}-force`);
    const device = await kind.start(join(dir, name));
    // The device keeps the MQTT port it was given: both runs' local AWS IoT must listen on it.
    const local = localArgs(join(dir, `${name}-iot`), fixedMqttPort());
    const ledger = ["--ledger", join(dir, `${name}.jsonl`)];
    try {
      const first = await cli(["--port", device.port, ...local, ...ledger, "--json"]);
      expect(first.status, first.stderr).toBe(0);
      const provisioned = JSON.parse(first.stdout);
      const second = await cli(["--port", device.port, ...local, ...ledger, "--force", "--json"]);
      expect(second.status, second.stderr).toBe(0);
      const rotated = JSON.parse(second.stdout);
      expect(rotated.mode).toBe("rotated");
      expect(rotated.certificateId).not.toBe(provisioned.certificateId);
      expect(rotated.retiredCertificateId).toBe(provisioned.certificateId);
      expect(JSON.parse(rotated.firstMessage.payload)).toEqual({ counter: 0 });

      const iot = await startLocalIot({ stateDir: join(dir, `${name}-iot`) });
      const target = await targetForLocalIot(iot);
      try {
        expect((await target.registry.describeCertificate(provisioned.certificateId))?.status).toBe(
          "INACTIVE",
        );
        expect((await target.registry.describeCertificate(rotated.certificateId))?.status).toBe("ACTIVE");
      } finally {
        await target.close();
        await iot.stop();
      }
    } finally {
      await device.stop();
    }
  }, 120_000);
});
