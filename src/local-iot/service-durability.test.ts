/**
 * The local AWS IoT's state across stops and kills: nothing acknowledged
 * is lost, nothing is written after a stop.
 */
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import {
  AttachThingPrincipalCommand,
  CreateCertificateFromCsrCommand,
  CreateThingCommand,
  IoTClient,
  ListThingsCommand,
} from "@aws-sdk/client-iot";
import { describe, expect, it } from "vitest";
import { startLocalIot } from "./service.js";
import { newClient, opensslCsr, P256, REPO_ROOT, useService } from "./service.test-helper.js";

let dir: string;
useService((s) => {
  dir = s.dir;
});

describe("durability", () => {
  it("a request still in flight when the service stops never writes the state dir afterwards", async () => {
    const stateDir = join(dir, "stop-in-flight");
    const first = await startLocalIot({
      stateDir,
      withoutBroker: true,
      faults: { operations: { CreateThing: { latencyMs: 400 } } },
    });
    const c1 = newClient({
      endpoint: first.controlPlaneUrl,
      credentials: { ...first.credentials },
      maxAttempts: 1,
    });
    const late = c1.send(new CreateThingCommand({ thingName: "from-stopped" })).catch(() => undefined);
    await new Promise((r) => setTimeout(r, 100)); // the request is waiting out its latency
    await first.stop();
    c1.destroy();
    // A new instance on the same state dir acknowledges a change...
    const second = await startLocalIot({ stateDir, withoutBroker: true });
    const c2 = newClient({ endpoint: second.controlPlaneUrl, credentials: { ...second.credentials } });
    await c2.send(new CreateThingCommand({ thingName: "acknowledged" }));
    await late;
    await new Promise((r) => setTimeout(r, 500)); // past the stopped instance's latency
    c2.destroy();
    await second.stop();
    // ...which the stopped instance's late write must not have replaced.
    const things = Object.keys(JSON.parse(readFileSync(join(stateDir, "state.json"), "utf8")).things);
    expect(things).toEqual(["acknowledged"]);
  });

  it("keeps every acknowledged change when the process is killed (SIGKILL) right after answering", async () => {
    const killState = join(dir, "kill-state");
    const child = spawn(
      process.execPath,
      ["--import", "tsx", join(import.meta.dirname, "testdata", "serve-for-test.ts"), killState],
      {
        cwd: REPO_ROOT,
        stdio: ["ignore", "pipe", "inherit"],
      },
    );
    try {
      const line = await new Promise<string>((res, rej) => {
        let buf = "";
        child.stdout.on("data", (c: Buffer) => {
          buf += c.toString();
          if (buf.includes("\n")) res(buf.split("\n")[0] as string);
        });
        child.on("exit", (code) => rej(new Error(`service child exited early (${code})`)));
      });
      const info = JSON.parse(line) as {
        url: string;
        region: string;
        credentials: { accessKeyId: string; secretAccessKey: string };
      };
      const c = new IoTClient({
        endpoint: info.url,
        region: info.region,
        credentials: { ...info.credentials },
        maxAttempts: 1,
      });
      const cert = await c.send(
        new CreateCertificateFromCsrCommand({
          certificateSigningRequest: opensslCsr("killed", P256),
          setAsActive: true,
        }),
      );
      await c.send(new CreateThingCommand({ thingName: "survivor" }));
      await c.send(
        new AttachThingPrincipalCommand({ thingName: "survivor", principal: cert.certificateArn }),
      );
      // Concurrent writes share group commits; every acknowledged one must still be on disk.
      const names = Array.from({ length: 20 }, (_, i) => `burst-${i}`);
      await Promise.all(names.map((thingName) => c.send(new CreateThingCommand({ thingName }))));
      child.kill("SIGKILL"); // no graceful shutdown: only what was on disk before each answer survives
      c.destroy();
      await new Promise((r) => child.once("exit", r));
      const again = await startLocalIot({ stateDir: killState, withoutBroker: true });
      try {
        expect(again.store.getCertificate(cert.certificateId ?? "")?.status).toBe("ACTIVE");
        expect(again.store.principalThings(cert.certificateArn ?? "")).toEqual(["survivor"]);
        expect(again.credentials).toEqual(info.credentials);
        const c2 = new IoTClient({
          endpoint: again.controlPlaneUrl,
          region: again.region,
          credentials: { ...again.credentials },
        });
        const listed = await c2.send(new ListThingsCommand({ maxResults: 100 }));
        expect(listed.things?.map((t) => t.thingName).sort()).toEqual([...names, "survivor"].sort());
        c2.destroy();
      } finally {
        await again.stop();
      }
    } finally {
      if (child.exitCode === null) child.kill("SIGKILL");
    }
  });
});
