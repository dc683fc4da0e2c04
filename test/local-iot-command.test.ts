/**
 * `provision local-iot`: what the command prints for clients, and its
 * refusal of a malformed fault environment.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect as tlsConnect } from "node:tls";
import { IoTClient, ListPoliciesCommand, ListThingsCommand } from "@aws-sdk/client-iot";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runLocalIotCommand } from "../src/commands/local-iot.js";
import { FAULTS_ENV } from "../src/local-iot/faults.js";
import type { LocalIot } from "../src/local-iot/service.js";
import { rejection } from "../src/local-iot/service.test-helper.js";

let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "provision-local-iot-command-"));
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe("CLI entry (provision local-iot)", () => {
  it("prints one JSON object a client can use, with faults from the environment", async () => {
    const cliState = join(dir, "cli-state");
    let stdout = "";
    let stderr = "";
    process.env[FAULTS_ENV] = JSON.stringify({ operations: { ListThings: { throttleRate: 1 } } });
    let cli: LocalIot | undefined;
    try {
      cli = await runLocalIotCommand(
        { stateDir: cliState, json: true },
        { stdout: (t) => (stdout += t), stderr: (t) => (stderr += t) },
      );
    } finally {
      delete process.env[FAULTS_ENV];
    }
    try {
      expect(stdout.trim().split("\n")).toHaveLength(1);
      const info = JSON.parse(stdout);
      expect(info).toMatchObject({
        controlPlaneUrl: cli.controlPlaneUrl,
        endpoint: "127.0.0.1",
        caFile: join(cliState, "ca.pem"),
        region: "us-east-1",
        accountId: "123456789012",
        brokerRunning: true,
      });
      expect(info.mqttsPort).toBeGreaterThan(0);
      expect(info.wssPort).toBeGreaterThan(0);
      // The broker presents a server certificate from the local CA, valid for the data endpoint.
      const authorized = await new Promise<boolean>((res, rej) => {
        const s = tlsConnect(
          { host: info.endpoint, port: info.mqttsPort, ca: readFileSync(info.caFile, "utf8") },
          () => {
            res(s.authorized);
            s.destroy();
          },
        );
        s.on("error", rej);
      });
      expect(authorized).toBe(true);
      expect(info.accessKeyId).toMatch(/^AKIDLOCAL[A-Z2-7]{11}$/);
      expect(info.env.AWS_ENDPOINT_URL_IOT).toBe(cli.controlPlaneUrl);
      expect(stderr).toMatch(/fault injection active/);
      const c = new IoTClient({
        endpoint: info.controlPlaneUrl,
        region: info.region,
        credentials: { accessKeyId: info.accessKeyId, secretAccessKey: info.secretAccessKey },
        maxAttempts: 1,
      });
      expect((await c.send(new ListPoliciesCommand({}))).policies).toEqual([]);
      expect((await rejection(c.send(new ListThingsCommand({})))).name).toBe("ThrottlingException");
      c.destroy();
    } finally {
      await cli.stop();
    }
  });

  it("refuses a malformed fault environment variable with a CONFIG error naming it", async () => {
    process.env[FAULTS_ENV] = "{oops";
    try {
      await expect(
        runLocalIotCommand({ stateDir: join(dir, "cli-bad"), noBroker: true }),
      ).rejects.toMatchObject({
        code: "CONFIG",
        where: FAULTS_ENV,
      });
    } finally {
      delete process.env[FAULTS_ENV];
    }
  });
});
