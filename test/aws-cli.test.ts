/**
 * Debian 12's AWS CLI (/usr/bin/aws from the `awscli` package, 2.9) against
 * the local AWS IoT through --endpoint-url: the real client that signs IoT
 * requests with the service name `execute-api` (AWS IoT's signing name in
 * its API reference), as AWS accepts.
 */
import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LocalIot, startLocalIot } from "../src/local-iot/service.js";
import { opensslCsr } from "./local-cloud.test-helper.js";

const AWS_CLI = "/usr/bin/aws";
const run = promisify(execFile);

let dir: string;
let iot: LocalIot;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "aws-cli-"));
  iot = await startLocalIot({ stateDir: join(dir, "iot"), withoutBroker: true });
});

afterAll(async () => {
  await iot?.stop();
  await rm(dir, { recursive: true, force: true });
});

/** `aws iot ...` with only the local credentials (no profile, no pager); async, so the service keeps answering. */
async function aws(args: string[]): Promise<{ stdout: string; stderr: string }> {
  return run(AWS_CLI, [...args, "--endpoint-url", iot.controlPlaneUrl, "--output", "json"], {
    cwd: dir,
    env: {
      PATH: process.env.PATH,
      HOME: dir,
      AWS_CONFIG_FILE: join(dir, "no-config"),
      AWS_SHARED_CREDENTIALS_FILE: join(dir, "no-credentials"),
      AWS_ACCESS_KEY_ID: iot.credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: iot.credentials.secretAccessKey,
      AWS_DEFAULT_REGION: iot.region,
      AWS_PAGER: "",
    },
    timeout: 60_000,
  });
}

describe("Debian's AWS CLI against the local AWS IoT", () => {
  it("is the 2.9 CLI this test is about", async () => {
    const { stdout, stderr } = await run(AWS_CLI, ["--version"]);
    expect(`${stdout}${stderr}`).toMatch(/^aws-cli\/2\.9\.\d+ .*debian/);
  });

  it("creates a certificate from a CSR, a thing, and attaches them (signed for execute-api)", async () => {
    const { csrPem } = await opensslCsr(dir, "cli-device");
    const csrFile = join(dir, "cli-device.csr");
    await writeFile(csrFile, csrPem);

    const created = await aws([
      "iot",
      "create-certificate-from-csr",
      "--certificate-signing-request",
      `file://${csrFile}`,
      "--set-as-active",
      "--debug",
    ]);
    const cert = JSON.parse(created.stdout) as {
      certificateArn: string;
      certificateId: string;
      certificatePem: string;
    };
    expect(cert.certificateId).toMatch(/^[0-9a-f]{64}$/);
    expect(cert.certificatePem).toContain("BEGIN CERTIFICATE");
    // The signature the service accepted was scoped to execute-api, not iot.
    expect(created.stderr).toMatch(new RegExp(`/${iot.region}/execute-api/aws4_request`));

    const thing = JSON.parse((await aws(["iot", "create-thing", "--thing-name", "cli-thing"])).stdout) as {
      thingName: string;
    };
    expect(thing.thingName).toBe("cli-thing");
    await aws([
      "iot",
      "attach-thing-principal",
      "--thing-name",
      "cli-thing",
      "--principal",
      cert.certificateArn,
    ]);

    const principals = JSON.parse(
      (await aws(["iot", "list-thing-principals", "--thing-name", "cli-thing"])).stdout,
    ) as { principals: string[] };
    expect(principals.principals).toEqual([cert.certificateArn]);
    expect(iot.store.getCertificate(cert.certificateId)?.status).toBe("ACTIVE");
    expect(iot.store.principalThings(cert.certificateArn)).toEqual(["cli-thing"]);
  }, 90_000);
});
