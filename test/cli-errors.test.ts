/**
 * The CLI as a user meets it: the real binary spawned, its exit status and
 * stderr compared. Each failure class has its own exit code and a message
 * that says what happened, where, and what to do.
 */

import { spawn } from "node:child_process";
import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openDevice } from "../src/commands/device-link.js";
import { createProgress } from "../src/commands/progress.js";
import { Ledger } from "../src/ledger/index.js";
import { type LocalIot, startLocalIot } from "../src/local-iot/service.js";
import {
  POLICY_NAME_DEFAULT,
  provisionDevice,
  THING_NAME_TEMPLATE_DEFAULT,
} from "../src/provision/pipeline.js";
import { targetForLocalIot } from "../src/provision/target.js";
import { TOPIC_DEFAULT } from "../src/registry/index.js";
import { openSerialTransport } from "../src/transport/index.js";
import { ensureTwinBuilt, startTwin, type Twin } from "../src/twin/index.js";
import { BIN, localArgs, runCli, WITHOUT_FILE_OVERRIDE } from "./cli.test-helper.js";
import { startPtyProgram } from "./pty-program.test-helper.js";

let dir: string;

const cli = (args: string[], env: NodeJS.ProcessEnv = {}) => runCli(args, { cwd: dir, env });

/** No AWS credentials anywhere: empty HOME, no env keys, no instance metadata. */
const NO_AWS = { AWS_EC2_METADATA_DISABLED: "true", AWS_REGION: "eu-west-1" };
const FAKE_AWS = {
  ...NO_AWS,
  AWS_ACCESS_KEY_ID: "AKIDEXAMPLE",
  AWS_SECRET_ACCESS_KEY: "wJalrXUtnFEMI/K7MDENG",
};

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "provision-cli-"));
  await ensureTwinBuilt();
}, 120_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("provision CLI errors and exit codes", () => {
  it("no port given: exit 5 and a hint naming --port and ESPPORT", async () => {
    const r = await cli(["--local"]);
    expect(r.status).toBe(5);
    expect(r.stderr).toMatch(/no serial port given/);
    expect(r.stderr).toMatch(/--port.*ESPPORT/);
  });

  it("port missing: exit 10 naming the port", async () => {
    const r = await cli(["--port", "/dev/ttyNOPE0", "--local"]);
    expect(r.status).toBe(10);
    expect(r.stderr).toContain("/dev/ttyNOPE0");
  });

  it("unknown board: exit 4 listing the known boards, before the port is touched", async () => {
    const r = await cli(["--port", "/dev/ttyNOPE0", "--board", "esp99", "--local"]);
    expect(r.status).toBe(4);
    expect(r.stderr).toMatch(/unknown board "esp99".*esp32-devkitc/s);
  });

  it("--json on failure prints one object with the error code on stdout", async () => {
    const r = await cli(["--port", "/dev/ttyNOPE0", "--local", "--json"]);
    expect(r.status).toBe(10);
    const out = JSON.parse(r.stdout);
    expect(out.ok).toBe(false);
    expect(out.error.code).toBe("PORT_NOT_FOUND");
  });

  describe("with a device twin", () => {
    let twin: Twin;
    beforeAll(async () => {
      twin = await startTwin({ stateDir: join(dir, "twin"), bootBanner: true });
    });
    afterAll(async () => twin?.stop());

    it("port busy: exit 11", async () => {
      const holder = await openSerialTransport(twin.port);
      try {
        const r = await cli(["--port", twin.port, "--local"]);
        expect(r.status).toBe(11);
        expect(r.stderr).toContain(twin.port);
      } finally {
        await holder.close();
      }
    });

    it("permission denied: exit 12 with the dialout hint", async () => {
      // The pty loses its permissions. Root would still open it, so as root the CLI runs as root without
      // the capabilities that bypass file permissions (not as another user: that user might not be able to
      // read the checkout, e.g. under a 0700 parent from mktemp -d).
      const asRoot = process.getuid?.() === 0;
      chmodSync(twin.port, 0o000);
      try {
        const r = await runCli(["--port", twin.port, "--local"], {
          cwd: dir,
          ...(asRoot ? { prefix: WITHOUT_FILE_OVERRIDE } : {}),
        });
        expect(r.status, r.stderr).toBe(12);
        expect(r.stderr).toMatch(/dialout/);
      } finally {
        chmodSync(twin.port, 0o620);
      }
    });

    it("no AWS credentials: exit 20 with a hint, and no secret printed", async () => {
      const r = await cli(["--port", twin.port], NO_AWS);
      expect(r.status).toBe(20);
      expect(r.stderr).toMatch(/credentials/i);
    });

    it("endpoint unreachable: exit 21 naming the endpoint", async () => {
      const r = await cli(["--port", twin.port, "--endpoint-url", "http://127.0.0.1:9"], FAKE_AWS);
      expect(r.status).toBe(21);
      expect(r.stderr).toContain("127.0.0.1:9");
      expect(r.stderr).not.toContain(FAKE_AWS.AWS_SECRET_ACCESS_KEY);
    });

    it("device silent (wrong firmware: logs, never answers): exit 14 naming the command and port, with its last log lines", async () => {
      // A pty whose far end prints ESP-IDF log lines but speaks no protocol, like a chip without the shim.
      const { child: chatter, port } = await startPtyProgram(
        [
          "import os, pty, sys, time",
          "m, s = pty.openpty()",
          "print(os.ttyname(s), flush=True)",
          "for i in range(400):",
          "    os.write(m, b'I (%d) app_main: blinking LED, no provisioning here\\r\\n' % (i * 100))",
          "    time.sleep(0.05)",
        ].join("\n"),
      );
      try {
        const r = await cli(["--port", port, ...localArgs(join(dir, "iot-silent"))]);
        expect(r.status).toBe(14);
        expect(r.stderr).toMatch(/HELLO/);
        expect(r.stderr).toContain(port);
        expect(r.stderr).toMatch(/last device log lines:\n\s+\| I \(\d+\) app_main: blinking LED/);
        expect(r.ms).toBeLessThan(20_000);
      } finally {
        chatter.kill();
      }
    });
  });

  describe("Ctrl-C", () => {
    it("during registration: rolls back, exits 130, leaves no certificate behind", async () => {
      const twin = await startTwin({ stateDir: join(dir, "twin-sigint") });
      const stateDir = join(dir, "iot-sigint");
      try {
        const child = spawn(process.execPath, [BIN, "--port", twin.port, ...localArgs(stateDir)], {
          cwd: dir,
          env: {
            PATH: process.env.PATH,
            HOME: dir,
            AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
            // Slow the cloud down after the certificate exists, so the interrupt lands mid-registration.
            PROVISION_LOCAL_IOT_FAULTS: JSON.stringify({
              operations: { AttachPolicy: { latencyMs: 1500 } },
            }),
          },
        });
        let stderr = "";
        const exited = new Promise<number | null>((res) => child.on("close", res));
        await new Promise<void>((res) =>
          child.stderr.on("data", (d) => {
            stderr += d;
            if (stderr.includes("… register")) res();
          }),
        );
        await new Promise((r) => setTimeout(r, 600));
        child.kill("SIGINT");
        expect(await exited).toBe(130);
        expect(stderr).toMatch(/interrupted: finishing or rolling back/);
        expect(stderr).toMatch(/roll(ing|ed) back twin-/);

        const iot = await startLocalIot({ stateDir });
        const target = await targetForLocalIot(iot);
        try {
          const certs = await target.registry.listCertificates();
          expect(certs.filter((c) => c.status === "ACTIVE")).toEqual([]);
        } finally {
          await target.close();
          await iot.stop();
        }
      } finally {
        await twin.stop();
      }
    }, 60_000);
  });

  describe("verification timeout", () => {
    let iotA: LocalIot;
    let twin: Twin;
    beforeAll(async () => {
      // Provision a twin against service A; then verify it with an observer on service B, where it never shows up.
      iotA = await startLocalIot({ stateDir: join(dir, "iot-a") });
      twin = await startTwin({ stateDir: join(dir, "twin-v") });
      const target = await targetForLocalIot(iotA);
      const observer = await target.openObserver();
      const ledger = await Ledger.open(join(dir, "ledger-a.jsonl"));
      const session = await openDevice({ port: twin.port });
      try {
        await provisionDevice(
          { session, target, ledger, observer, progress: createProgress({ quiet: true }) },
          {
            thingNameTemplate: THING_NAME_TEMPLATE_DEFAULT,
            topic: TOPIC_DEFAULT,
            policyName: POLICY_NAME_DEFAULT,
            intervalMs: 5000,
            subject: {},
            force: false,
            lock: false,
            firstPublishTimeoutMs: 15_000,
          },
        );
      } finally {
        await session.close();
        await observer.close();
        await ledger.close();
        await target.close();
      }
    }, 60_000);
    afterAll(async () => {
      await twin?.stop();
      await iotA?.stop();
    });

    it("exit 30 naming the thing when the device never publishes where the observer looks", async () => {
      const r = await cli([
        "verify",
        "--port",
        twin.port,
        ...localArgs(join(dir, "iot-b")),
        "--timeout",
        "2500",
      ]);
      expect(r.status).toBe(30);
      expect(r.stderr).toMatch(/no message from thing twin-[0-9a-f]{12}/);
      expect(r.stderr).toMatch(/what to do/);
    });

    it("verify against the right service passes (exit 0) and reports latencies", async () => {
      const env = {
        AWS_ACCESS_KEY_ID: iotA.credentials.accessKeyId,
        AWS_SECRET_ACCESS_KEY: iotA.credentials.secretAccessKey,
      };
      expect(env.AWS_ACCESS_KEY_ID).toMatch(/^AKIDLOCAL/);
      const { verifyProvisioned } = await import("../src/provision/pipeline.js");
      const target = await targetForLocalIot(iotA);
      const observer = await target.openObserver();
      const session = await openDevice({ port: twin.port });
      try {
        const hello = await session.hello();
        const status = await session.status();
        const result = await verifyProvisioned(
          { session, observer, progress: createProgress({ quiet: true }) },
          hello,
          status,
          { timeoutMs: 15_000 },
        );
        expect(result.mode).toBe("verified");
        expect(JSON.parse(result.firstMessage?.payload ?? "null")).toEqual({ counter: 0 });
        expect(result.firstMessage?.firstPublishMs).toBeGreaterThan(0);
      } finally {
        await session.close();
        await observer.close();
        await target.close();
      }
    });
  });
});
