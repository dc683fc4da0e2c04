/**
 * The emulated ESP32-C3 as a user meets it: `provision firmware build --board
 * esp32-c3-devkitm-1 --json` (whole images: bootloader, partition table,
 * app), `provision sim --board esp32-c3-devkitm-1 --emulate` (distinct eFuse
 * MACs, flash kept in the state dir across restarts), and `provision --port P
 * --local --until committed` against it: the device reports, after its
 * restart and after the emulator itself was stopped and started again, the
 * committed set with the certificate AWS IoT issued.
 */
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startLocalIot } from "../src/local-iot/service.js";
import { DEVICE_STATE } from "../src/protocol/index.js";
import { targetForLocalIot } from "../src/provision/target.js";
import { deviceStatus, localArgs, runCli } from "./cli.test-helper.js";
import {
  CHIP_IMAGE_BUILD_TIMEOUT_MS,
  EMULATED_BOARD,
  EMULATED_CHIP_KINDS,
} from "./device-kinds.test-helper.js";
import { expectDocumented } from "./json-schema.test-helper.js";

const dir = mkdtempSync(join(tmpdir(), "emulated-chip-"));

afterAll(() => rmSync(dir, { recursive: true, force: true }));
const cli = (args: string[], extra: { untilLine?: boolean } = {}) =>
  runCli(args, { cwd: dir, inheritEnv: true, ...extra });
/** ESP-IDF's image header: magic 0xE9, chip id (u16 LE at byte 12); 5 is the ESP32-C3. */
const ESP32C3_CHIP_ID = 5;

describe.each(EMULATED_CHIP_KINDS)("$name", (kind) => {
  beforeAll(() => kind.build(), CHIP_IMAGE_BUILD_TIMEOUT_MS);

  it("firmware build --json names the build folder, each image at its offset, and the app's room", async () => {
    const r = await cli([
      "firmware",
      "build",
      "--board",
      EMULATED_BOARD,
      "--key-store",
      "nvs",
      "--idf",
      kind.idf ?? "",
      "--json",
    ]);
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as {
      buildDir: string;
      built: boolean;
      images: { role: string; file: string; offset: string; size: number }[];
      partitions: { label: string; fill?: number; used?: number; size: number }[];
    };
    expect(out.built).toBe(false); // built once in beforeAll: the stamp holds
    expect(
      JSON.parse(readFileSync(join(out.buildDir, "flasher_args.json"), "utf8")).extra_esptool_args.chip,
    ).toBe("esp32c3");
    expect(out.images.map((i) => [i.role, i.offset])).toEqual([
      ["bootloader", "0x0"],
      ["partition-table", "0x8000"],
      ["app", "0x10000"],
    ]);
    for (const i of out.images.filter((x) => x.role !== "partition-table")) {
      const header = readFileSync(i.file);
      expect(header[0], `${i.role} image magic`).toBe(0xe9);
      expect(header.readUInt16LE(12), `${i.role} image chip id`).toBe(ESP32C3_CHIP_ID);
      expect(header.length).toBe(i.size);
    }
    const factory = out.partitions.find((p) => p.label === "factory");
    expect(factory?.used).toBe(out.images.find((i) => i.role === "app")?.size);
    expect(factory?.fill).toBeGreaterThan(0.1);
    expect(factory?.fill).toBeLessThan(0.9);
  });

  it("sim --emulate: distinct MACs, provisioned --until committed, and the committed set survives the emulator's restart", async () => {
    const stateDir = join(dir, `sim-${kind.idf}`);
    const simArgs = [...kind.simArgs, "--count", "2", "--state-dir", stateDir, "--json"];
    let sim = await cli(["sim", ...simArgs], { untilLine: true });
    const chips = JSON.parse(sim.stdout.split("\n")[0] ?? "[]") as {
      port: string;
      deviceId: string;
      stateDir: string;
    }[];
    expect(chips).toHaveLength(2);
    expect(chips[0]?.deviceId).toMatch(/^[0-9a-f]{12}$/);
    expect(chips[1]?.deviceId).not.toBe(chips[0]?.deviceId);
    const [chip] = chips;
    if (!chip) throw new Error("no chip");
    const iotDir = join(dir, `iot-${kind.idf}`);
    let certificateId: string;
    try {
      const run = await cli([
        "--port",
        chip.port,
        "--no-reset",
        "--key-store",
        "nvs",
        ...localArgs(iotDir),
        "--ledger",
        join(dir, `ledger-${kind.idf}.jsonl`),
        "--until",
        "committed",
        "--json",
      ]);
      expect(run.status, run.stderr).toBe(0);
      const result = JSON.parse(run.stdout);
      expectDocumented(result);
      expect(result).toMatchObject({
        ok: true,
        mode: "provisioned",
        until: "committed",
        deviceId: chip.deviceId,
      });
      expect(result.boardId).toBe(EMULATED_BOARD);
      expect(result.firstMessage).toBeUndefined();
      expect(result.committed.generation).toBe(1);
      expect(run.stderr).toMatch(/first publish not checked/);
      certificateId = result.certificateId;
    } finally {
      sim.interrupt();
      expect(await sim.exited).toBe(130);
    }

    // Power off and on again: the flash file is the chip's flash.
    sim = await cli(["sim", ...simArgs], { untilLine: true });
    try {
      const again = JSON.parse(sim.stdout.split("\n")[0] ?? "[]") as { port: string; deviceId: string }[];
      expect(again.map((c) => c.deviceId)).toEqual(chips.map((c) => c.deviceId));
      const status = await deviceStatus(again[0]?.port ?? "");
      expect(status.state).toBe(DEVICE_STATE.PROVISIONED);
      const iot = await startLocalIot({ stateDir: iotDir });
      const target = await targetForLocalIot(iot);
      try {
        const cert = await target.registry.describeCertificate(certificateId);
        expect(cert?.status).toBe("ACTIVE");
        const pem = cert?.certificatePem ?? "";
        expect(status.certSha256?.toString("hex")).toBe(createHash("sha256").update(pem).digest("hex"));
      } finally {
        await target.close();
        await iot.stop();
      }
      expect((await deviceStatus(again[1]?.port ?? "")).state).toBe(DEVICE_STATE.EMPTY);
    } finally {
      sim.interrupt();
      expect(await sim.exited).toBe(130);
    }
  }, 180_000);
});

describe("station --until committed on emulated chips", () => {
  const [kind] = EMULATED_CHIP_KINDS;
  beforeAll(() => kind?.build(), CHIP_IMAGE_BUILD_TIMEOUT_MS);

  it("provisions two emulated chips in parallel and reports each committed generation", async () => {
    if (!kind) throw new Error("no emulated kind");
    const sim = await cli(
      ["sim", ...kind.simArgs, "--count", "2", "--state-dir", join(dir, "station-chips"), "--json"],
      {
        untilLine: true,
      },
    );
    try {
      const chips = JSON.parse(sim.stdout.split("\n")[0] ?? "[]") as { port: string; deviceId: string }[];
      const run = await cli([
        "station",
        ...chips.map((c) => c.port),
        ...localArgs(join(dir, "station-iot")),
        "--ledger",
        join(dir, "station.jsonl"),
        "--manifest",
        join(dir, "station-manifest"),
        "--key-store",
        "nvs",
        "--until",
        "committed",
        "--json",
      ]);
      expect(run.status, run.stderr).toBe(0);
      const lines = run.stdout
        .trim()
        .split("\n")
        .map(
          (l) =>
            JSON.parse(l) as { ok: boolean; deviceId: string; outcome: string; committedGeneration?: number },
        );
      expect(lines.map((l) => l.deviceId).sort()).toEqual(chips.map((c) => c.deviceId).sort());
      for (const l of lines) {
        expectDocumented(l);
        expect(l).toMatchObject({ ok: true, outcome: "provisioned", committedGeneration: 1 });
      }
      for (const c of chips) expect((await deviceStatus(c.port)).state).toBe(DEVICE_STATE.PROVISIONED);
      // Started together, each chip drew its own key (QEMU's rand() is seeded per run: src/emulator/rng-seed.ts).
      const keys = new Map<string, unknown>();
      for (const line of readFileSync(join(dir, "station.jsonl"), "utf8").split("\n").filter(Boolean)) {
        const r = JSON.parse(line) as {
          device?: string;
          op?: string;
          event: string;
          data?: { spkiSha256?: unknown };
        };
        if (r.event === "intent" && r.op === "CreateCertificateFromCsr" && r.device)
          keys.set(r.device, r.data?.spkiSha256);
      }
      expect([...keys.keys()].sort()).toEqual(chips.map((c) => c.deviceId).sort());
      expect(new Set(keys.values()).size).toBe(2);
    } finally {
      sim.interrupt();
      expect(await sim.exited).toBe(130);
    }
  }, 180_000);
});
