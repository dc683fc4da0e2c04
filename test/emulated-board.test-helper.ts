/**
 * Flashing tests' rig: emulated ESP32-C3 boards (the chip behind an RFC 2217
 * port with the auto-reset circuit, src/emulator/board.ts) and the kit's own
 * Python esptool 4.12, a loader client we did not write, to check what our
 * flashing left: `verify_flash` over the port, `merge_bin` for the expected
 * flash content.
 */
import { spawn } from "node:child_process";
import { join } from "node:path";
import { type EmulatedChip, startEmulatedChip } from "../src/emulator/emulated-chip.js";
import { ensureKit } from "../src/firmware/idf.js";
import { DeviceSession, helloAfterBoot } from "../src/session/index.js";
import { openSerialTransport } from "../src/transport/index.js";

/** The ESP-IDF kit whose esptool the tests use (the v6 kit ships none). */
const ESPTOOL_KIT = "5.5.5";

export async function blankBoard(stateDir: string): Promise<EmulatedChip> {
  return startEmulatedChip({ stateDir, blank: true, uart: "rfc2217", waitForApp: false });
}

/** The same board again (its flash and eFuses kept), booting from flash. */
export async function restartBoard(stateDir: string): Promise<EmulatedChip> {
  return startEmulatedChip({ stateDir, uart: "rfc2217", waitForApp: false });
}

/** The kit's Python esptool (`python3 -m esptool ...`), run without blocking this process (it may host the board). */
export async function esptool(args: string[]): Promise<{ status: number | null; output: string }> {
  const kit = await ensureKit(ESPTOOL_KIT);
  return new Promise((done) => {
    const child = spawn("/usr/bin/python3", ["-m", "esptool", ...args], {
      env: { ...process.env, PYTHONPATH: join(kit, "python", "esptool") },
    });
    let output = "";
    child.stdout.on("data", (b: Buffer) => {
      output += b;
    });
    child.stderr.on("data", (b: Buffer) => {
      output += b;
    });
    child.on("close", (status) => done({ status, output }));
  });
}

/** The app answers HELLO (after a reset or a flash), within `budgetMs`. */
export async function helloOn(port: string, budgetMs = 30_000) {
  const session = new DeviceSession(await openSerialTransport(port));
  try {
    const hello = await helloAfterBoot(session, budgetMs);
    const status = await session.status();
    return { hello, status };
  } finally {
    await session.close();
  }
}
