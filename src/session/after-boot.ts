/**
 * Meeting a device that is booting: after a reset, a RESTART or a power-on,
 * a chip runs its ROM, its bootloader and the app's start-up before the
 * console answers (a few hundred ms on silicon, seconds on the emulated
 * chip). HELLO is asked again until it is answered or the boot budget is
 * spent; then the last error stands, with how long was waited.
 */
import { asProvisionError, ProvisionError } from "../errors.js";
import type { HelloAnswer } from "../protocol/index.js";
import type { DeviceSession } from "./device-session.js";

export async function helloAfterBoot(
  session: DeviceSession,
  budgetMs: number = session.bootTimeoutMs,
  signal?: AbortSignal,
): Promise<HelloAnswer> {
  const started = Date.now();
  for (;;) {
    try {
      return await session.hello();
    } catch (e) {
      const err = asProvisionError(e);
      const waited = Date.now() - started;
      if (err.code !== "DEVICE_SILENT" || waited >= budgetMs || signal?.aborted)
        throw err.code === "DEVICE_SILENT"
          ? new ProvisionError(
              err.code,
              `${err.message}; waited ${(waited / 1000).toFixed(1)} s in all for the device to boot`,
              {
                where: err.where,
                hint: "check that the device runs the provisioning firmware; a slow one can be given longer with --device-timeout BOOT=MS (or the board file's deviceTimeoutsMs)",
                deviceLog: err.deviceLog,
                details: err.details,
                cause: err,
              },
            )
          : err;
    }
  }
}
