/**
 * The local AWS IoT under test for the service test files: one service per
 * file, an SDK client for it, raw signed HTTP, CSRs made by openssl.
 */
import { execFile, execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { Sha256 } from "@aws-crypto/sha256-js";
import { IoTClient } from "@aws-sdk/client-iot";
import { SignatureV4 } from "@smithy/signature-v4";
import { afterAll, beforeAll } from "vitest";
import { type LocalIot, startLocalIot } from "./service.js";

export const execFileAsync = promisify(execFile);
export const REPO_ROOT = resolve(import.meta.dirname, "..", "..");
export const POLICY = JSON.stringify({
  Version: "2012-10-17",
  Statement: [{ Effect: "Allow", Action: ["iot:Connect"], Resource: ["*"] }],
});

/** The service of this test file (one per file: vitest isolates modules per file). */
export interface TestService {
  dir: string;
  stateDir: string;
  iot: LocalIot;
  client: IoTClient;
}
export const svc = {} as TestService;

/** After a test restarted the service: its client, and the service the file's end stops. */
export function replaceService(iot: LocalIot): IoTClient {
  svc.iot = iot;
  svc.client = newClient();
  return svc.client;
}

/** Starts a control-plane-only local AWS IoT for the file's tests and hands it to `bind`. */
export function useService(bind: (s: TestService) => void): void {
  beforeAll(async () => {
    svc.dir = mkdtempSync(join(tmpdir(), "local-iot-svc-"));
    svc.stateDir = join(svc.dir, "state");
    svc.iot = await startLocalIot({ stateDir: svc.stateDir, withoutBroker: true, detachDelayMs: 300 });
    svc.client = newClient();
    bind(svc);
  });
  afterAll(async () => {
    svc.client?.destroy();
    await svc.iot?.stop();
    rmSync(svc.dir, { recursive: true, force: true });
  });
}

export function newClient(extra: Partial<ConstructorParameters<typeof IoTClient>[0]> = {}): IoTClient {
  // A copy: the SDK writes bookkeeping fields into the credentials object it is given.
  return new IoTClient({
    endpoint: svc.iot.controlPlaneUrl,
    region: svc.iot.region,
    credentials: { ...svc.iot.credentials },
    ...extra,
  });
}

export function opensslCsr(name: string, newkey: string[]): string {
  const csrFile = join(svc.dir, `${name}.csr`);
  execFileSync(
    "openssl",
    [
      "req",
      "-new",
      ...newkey,
      "-nodes",
      "-keyout",
      join(svc.dir, `${name}.key`),
      "-subj",
      `/CN=${name}`,
      "-out",
      csrFile,
    ],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  return readFileSync(csrFile, "utf8");
}

export const P256 = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"];
export const RSA2048 = ["-newkey", "rsa:2048"];

/** Resolves to the error the promise rejects with (fails if it resolves). */
export async function rejection(
  p: Promise<unknown>,
): Promise<Error & { $metadata?: { httpStatusCode?: number; attempts?: number } }> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error("expected the call to fail, it succeeded");
}

export interface RawResponse {
  status: number;
  errorType: string | undefined;
  body: string;
}

/** Raw HTTP to the control plane, signed with the SDK's signer unless told otherwise. */
export async function raw(
  method: string,
  path: string,
  opts: {
    body?: string | Buffer;
    headers?: Record<string, string>;
    sign?:
      | "ok"
      | "none"
      | { secret?: string; region?: string; service?: string; applyChecksum?: boolean; signingDate?: Date };
    /** Sent instead of `body` after signing `body` (a body changed in transit). */
    sendBody?: string;
  } = {},
): Promise<RawResponse> {
  const url = new URL(svc.iot.controlPlaneUrl);
  const body = opts.body ?? "";
  const [pathOnly = "", queryString = ""] = path.split("?");
  let headers: Record<string, string> = {
    host: url.host,
    "content-type": "application/json",
    ...opts.headers,
  };
  const sign = opts.sign ?? "ok";
  if (sign !== "none") {
    const s = typeof sign === "object" ? sign : {};
    const signer = new SignatureV4({
      credentials: {
        ...svc.iot.credentials,
        secretAccessKey: s.secret ?? svc.iot.credentials.secretAccessKey,
      },
      region: s.region ?? svc.iot.region,
      service: s.service ?? "iot",
      sha256: Sha256,
      applyChecksum: s.applyChecksum ?? true,
    });
    const query = Object.fromEntries(new URLSearchParams(queryString));
    const signed = await signer.sign(
      {
        method,
        protocol: "http:",
        hostname: url.hostname,
        port: Number(url.port),
        path: pathOnly,
        query,
        headers,
        body,
      },
      s.signingDate ? { signingDate: s.signingDate } : {},
    );
    headers = signed.headers as Record<string, string>;
  }
  return new Promise((resolvePromise, reject) => {
    const req = request({ host: url.hostname, port: url.port, method, path, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () =>
        resolvePromise({
          status: res.statusCode ?? 0,
          errorType: res.headers["x-amzn-errortype"] as string | undefined,
          body: Buffer.concat(chunks).toString("utf8"),
        }),
      );
    });
    req.on("error", reject);
    req.end(opts.sendBody ?? body);
  });
}
