/**
 * The station's quota reading through the real Service Quotas SDK over HTTP
 * against the local AWS IoT, which answers from its configured limits.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { IOT_API_TPS_DEFAULT, IOT_RATE_QUOTAS } from "../cloud/iot-quotas.js";
import { type LocalIot, startLocalIot } from "../local-iot/service.js";
import { readIotQuotas } from "./service-quotas.js";

let dir: string;
let iot: LocalIot;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "service-quotas-"));
  iot = await startLocalIot({ stateDir: join(dir, "iot"), withoutBroker: true });
});

afterAll(async () => {
  await iot?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const read = (credentials = iot.credentials, endpoint = iot.controlPlaneUrl) =>
  readIotQuotas({ region: iot.region, credentials: { ...credentials }, endpoint });

describe("readIotQuotas against the local AWS IoT", () => {
  it("without configured limits: nothing is listed, each coded quota is asked for and answered with AWS's default", async () => {
    iot.setFaults({});
    const reading = await read();
    expect(reading.fallbackReason).toBeUndefined();
    expect(reading.tps).toEqual({ ...IOT_API_TPS_DEFAULT });
    const coded = IOT_RATE_QUOTAS.filter((q) => q.quotaCode).map((q) => q.operation);
    expect(reading.fromAccount).toEqual([...coded].sort());
    const stats = iot.stats();
    expect(stats.ListServiceQuotas?.ok).toBe(1);
    expect(stats.GetServiceQuota?.ok).toBe(coded.length);
  });

  it("with configured limits: the station learns them all, including the calls AWS lists only in its throttling guide", async () => {
    iot.setFaults({ default: { maxRps: 5 }, operations: { DescribeThing: { maxRps: 40 } } });
    const reading = await read();
    expect(reading.fallbackReason).toBeUndefined();
    for (const op of [
      "CreateCertificateFromCsr",
      "AttachPolicy",
      "CreateThing",
      "AttachThingPrincipal",
      "GetPolicy",
    ])
      expect(reading.tps[op], op).toBe(5);
    expect(reading.tps.DescribeThing).toBe(40);
    expect(reading.fromAccount).toContain("CreateCertificateFromCsr");
    iot.setFaults({});
  });

  it("refused (bad credentials) or unreachable: AWS's defaults, and the reason", async () => {
    const refused = await read({ accessKeyId: "AKIDNOTLOCAL00000000", secretAccessKey: "x" });
    expect(refused.tps).toEqual({ ...IOT_API_TPS_DEFAULT });
    expect(refused.fromAccount).toEqual([]);
    expect(refused.fallbackReason).toMatch(
      /Service Quotas \(iotcore\) could not be read: UnrecognizedClientException/,
    );

    const server = createServer();
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const port = (server.address() as { port: number }).port;
    await new Promise((r) => server.close(r));
    const started = Date.now();
    const unreachable = await read(iot.credentials, `http://127.0.0.1:${port}`);
    expect(unreachable.fallbackReason).toMatch(/could not be read: .*ECONNREFUSED/);
    expect(Date.now() - started).toBeLessThan(10_000);
  });
});
