/**
 * Provision, then flash the product, keep the credentials, on the emulated
 * ESP32-C3: a board runs the provisioning firmware and is provisioned
 * (`--until committed`: no network here); the product fixture (not the
 * counter: a thermostat that adds the provision component by its manifest,
 * built here in its credentials-only form, as a whole chip image) is
 * flashed over it with `provision flash`, which keeps the NVS partition;
 * after the reset the product reports, through the component's API, the
 * thing, topic and generation that provisioning left.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { startEmulatedChip } from "../src/emulator/emulated-chip.js";
import { ensureChipImageBuilt, ensureChipProjectBuilt } from "../src/firmware/chip-image.js";
import { DeviceSession } from "../src/session/index.js";
import { openSerialTransport } from "../src/transport/index.js";
import { localArgs, runCli } from "./cli.test-helper.js";
import { CHIP_IMAGE_BUILD_TIMEOUT_MS, EMULATED_BOARD } from "./device-kinds.test-helper.js";

const dir = mkdtempSync(join(tmpdir(), "product-chip-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const cli = (args: string[]) => runCli(args, { cwd: dir, inheritEnv: true, timeoutMs: 600_000 });
const PRODUCT = resolve("test", "fixtures", "idf-product");

/** The device's log until a line matches, listening from before `act` (a power-on), or the wait ends. */
async function logLineAfter(port: string, act: () => Promise<unknown>, pattern: RegExp, budgetMs: number) {
  const session = new DeviceSession(await openSerialTransport(port));
  try {
    const line = new Promise<string>((done, fail) => {
      const timer = setTimeout(
        () =>
          fail(
            new Error(
              `no log line ${pattern} within ${budgetMs} ms; last lines:\n${session.deviceLog.join("\n")}`,
            ),
          ),
        budgetMs,
      );
      session.on("log", (line) => {
        if (!pattern.test(line)) return;
        clearTimeout(timer);
        done(line);
      });
    });
    await act();
    return await line;
  } finally {
    await session.close();
  }
}

describe("a product flashed over the provisioning firmware", () => {
  it(
    "keeps the key and credentials, and reads them through the component's API",
    async () => {
      const kitVersion = "5.5.5";
      const provisioning = await ensureChipImageBuilt({ board: EMULATED_BOARD, keyStore: "nvs", kitVersion });
      const product = await ensureChipProjectBuilt({
        projectDir: PRODUCT,
        target: "esp32c3",
        sdkconfigDefaults: ["sdkconfig.defaults", "sdkconfig.credentials-only"],
        variant: "credentials-only",
        kitVersion,
      });
      // the product keeps the NVS where provisioning put it: ESP-IDF's single-app table and the board's agree
      expect(product.nvs).toEqual(provisioning.nvs);

      const chip = await startEmulatedChip({
        stateDir: join(dir, "board"),
        image: provisioning,
        uart: "rfc2217",
      });
      try {
        const p = await cli([
          "--port",
          chip.port,
          "--key-store",
          "nvs",
          ...localArgs(join(dir, "iot")),
          "--ledger",
          join(dir, "ledger.jsonl"),
          "--until",
          "committed",
          "--json",
        ]);
        expect(p.status, p.stderr).toBe(0);
        const provisioned = JSON.parse(p.stdout);

        const f = await cli([
          "flash",
          "--port",
          chip.port,
          "--image",
          product.buildDir,
          "--no-stub",
          "--json",
        ]);
        expect(f.status, f.stderr).toBe(0);
        const flashed = JSON.parse(f.stdout);
        expect(flashed.nvs).toMatchObject({ blank: false, kept: true });
        expect(flashed.app.project).toBe("thermo-product");
        expect(flashed.regions.find((r: { role: string }) => r.role === "app").written).toBe(true);

        // the flash reset the board into the product; a second reset so that its first lines are read too
        await chip.board?.powerCut();
        const line = await logLineAfter(
          chip.port,
          async () => chip.board?.powerOn(),
          /thing .*, topic .*, generation \d+/,
          60_000,
        );
        expect(line).toContain(
          `thing ${provisioned.thingName}, topic ${provisioned.topic}, generation 1, key der (ec-p256)`,
        );
      } finally {
        await chip.stop();
      }
    },
    CHIP_IMAGE_BUILD_TIMEOUT_MS,
  );
});
