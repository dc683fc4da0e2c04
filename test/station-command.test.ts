/**
 * `stationCommand` as the CLI calls it: its own local AWS IoT (free ports),
 * real twins, --json lines on stdout, progress on stderr, a manifest, and the
 * usage errors that must come before anything starts.
 */
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { stationCommand } from "../src/commands/station.js";
import { ProvisionError } from "../src/errors.js";
import { ensureTwinBuilt, startTwins, type Twin } from "../src/twin/index.js";

let dir: string;
let twins: Twin[] = [];

beforeAll(async () => {
  await ensureTwinBuilt();
  dir = await mkdtemp(join(tmpdir(), "station-command-"));
}, 60_000);

afterAll(async () => {
  await Promise.all(twins.map((t) => t.stop()));
  await rm(dir, { recursive: true, force: true });
});

function capture() {
  let stdout = "";
  let stderr = "";
  const out = vi.spyOn(process.stdout, "write").mockImplementation((chunk) => {
    stdout += String(chunk);
    return true;
  });
  const err = vi.spyOn(process.stderr, "write").mockImplementation((chunk) => {
    stderr += String(chunk);
    return true;
  });
  return {
    get stdout() {
      return stdout;
    },
    get stderr() {
      return stderr;
    },
    restore() {
      out.mockRestore();
      err.mockRestore();
    },
  };
}

describe("stationCommand", () => {
  it("provisions the given ports with --json: one line per device on stdout, the view and summary on stderr", async () => {
    twins = await startTwins(3, join(dir, "twins"));
    const io = capture();
    let summary: Awaited<ReturnType<typeof stationCommand>>;
    try {
      summary = await stationCommand({
        ports: twins.map((t) => t.port),
        local: true,
        localStateDir: join(dir, "iot"),
        localPorts: { controlPlane: 0, mqtts: 0, wss: 0 },
        ledger: join(dir, "ledger.jsonl"),
        manifest: join(dir, "manifest"),
        stationId: "line-7",
        concurrency: 2,
        switchBaud: 921600,
        json: true,
      });
    } finally {
      io.restore();
    }
    expect(summary.ok).toBe(3);
    const lines = io.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { ok: boolean; deviceId: string; baud: number; outcome: string });
    expect(lines.map((l) => l.deviceId).sort()).toEqual(twins.map((t) => t.deviceId).sort());
    for (const l of lines) {
      expect(l.ok).toBe(true);
      expect(l.outcome).toBe("provisioned");
      expect(l.baud).toBe(921600);
    }
    // Not a TTY here: plain lines, no cursor movement; the summary last.
    expect(io.stderr).not.toContain("\x1b[");
    expect(io.stderr).toMatch(/station line-7: 3 ok \(3 provisioned, 0 verified\), 0 failed/);
    for (const t of twins) expect(io.stderr).toContain(`${t.deviceId} provisioned cert`);
    const csv = (await readFile(join(dir, "manifest.csv"), "utf8")).split("\r\n").filter(Boolean);
    expect(csv).toHaveLength(4);
    expect(csv.slice(1).every((l) => l.includes(",line-7,"))).toBe(true);
  }, 60_000);

  it("a port that does not exist: the device fails, the command throws its code after the summary", async () => {
    const io = capture();
    const run = stationCommand({
      ports: [join(dir, "no-such-port")],
      local: true,
      localStateDir: join(dir, "iot"),
      localPorts: { controlPlane: 0, mqtts: 0, wss: 0 },
      ledger: join(dir, "ledger.jsonl"),
      manifest: join(dir, "manifest"),
    });
    const error = await run.then(
      () => undefined,
      (e: unknown) => e,
    );
    io.restore();
    expect(error).toBeInstanceOf(ProvisionError);
    expect((error as ProvisionError).code).toBe("PORT_NOT_FOUND");
    expect((error as ProvisionError).message).toMatch(/1 of 1 device\(s\) failed/);
    expect(io.stderr).toMatch(/0 ok .* 1 failed/);
  }, 30_000);

  it("usage errors come before anything starts", async () => {
    await expect(stationCommand({})).rejects.toMatchObject({ code: "PORT_NOT_GIVEN" });
    await expect(stationCommand({ ports: ["/dev/null"], watch: true })).rejects.toMatchObject({
      code: "USAGE",
    });
    await expect(stationCommand({ ports: ["/dev/null"], quota: ["CreateThing=fast"] })).rejects.toMatchObject(
      {
        code: "USAGE",
      },
    );
    await expect(stationCommand({ ports: ["/dev/null"], headroom: 60 })).rejects.toMatchObject({
      code: "USAGE",
      message: expect.stringMatching(/--headroom 60/),
    });
    await expect(stationCommand({ fixture: join(dir, "missing.json") })).rejects.toMatchObject({
      code: "CONFIG",
    });
    await expect(stationCommand({ ports: ["/dev/null"], rateStore: "localhost:6379" })).rejects.toMatchObject(
      {
        code: "USAGE",
      },
    );
    await expect(
      stationCommand({ ports: ["/dev/null"], localIotInfo: join(dir, "no-local-iot.json") }),
    ).rejects.toMatchObject({ code: "CONFIG", where: join(dir, "no-local-iot.json") });
    // Nothing listens on port 1: the station stops before any device, naming the store.
    await expect(
      stationCommand({ ports: ["/dev/null"], rateStore: "redis://127.0.0.1:1", local: true }),
    ).rejects.toMatchObject({ code: "CONFIG", where: "redis://127.0.0.1:1" });
  });
});
