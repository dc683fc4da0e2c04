/**
 * The errors a device session reports, each with the port, the device's
 * last log lines and what to do: a refusal (DEVICE_REFUSED, with a hint per
 * device error code), an answer this host cannot use (DEVICE_PROTOCOL), no
 * answer at all (DEVICE_SILENT).
 */
import { ProvisionError } from "../errors.js";
import { printable } from "../printable.js";
import { type CommandTiming, PROTOCOL_VERSION } from "../protocol/index.js";

/** What an error about the device needs to say. */
export interface DeviceContext {
  port: string;
  baudRate: number;
  deviceLog: string[];
  /** The device printed log text (it runs, but maybe not the provisioning firmware). */
  heardLog: boolean;
}

/** What went wrong while waiting, to tell DEVICE_SILENT from DEVICE_PROTOCOL. */
export interface Trouble {
  frameErrors: number;
  badVersion: number | undefined;
  unreadableLines: number;
  /** Characters of a frame line that began and never ended (a line that stalls or drops mid-answer). */
  partialFrame: number;
}

export const REFUSAL_HINTS: Record<string, string> = {
  ERR_WRONG_STATE:
    "the steps must run in order (key, CSR, credentials, commit): run `provision --port ...` again, it reads the device's state (STATUS) and goes on from there",
  ERR_LOCKED: "the device is locked; only HELLO, STATUS, PING, SET_BAUD and RESTART work now",
  ERR_UNSUPPORTED: "choose a key type and key store the board supports (see HELLO / the board file)",
  ERR_NO_KEY: "generate the key first",
  ERR_KEY_MISMATCH: "the certificate was not issued for this device's key: provision again from the CSR step",
  ERR_VERSION: "update the tool or the device firmware so both speak the same protocol version",
  ERR_BUSY: "wait for the device to finish and try again",
  ERR_STORAGE: "the device's flash or key storage failed; erase the NVS partition or check the flash",
  ERR_BAD_BAUD: "pick a rate from the device's HELLO list",
  ERR_BAD_CERT: "the certificate or root CA PEM does not parse on the device: check the files given",
  ERR_TOO_LARGE: "the credential set is larger than the device accepts: drop unneeded root CAs",
  ERR_BAD_TOKEN: "the factory-reset token was wrong or older than 30 s: run the reset again",
  ERR_CRYPTO: "the device's crypto library failed (code in the text): check the key store, then retry",
};

export function deviceRefused(at: DeviceContext, name: string, error: string, text: string): ProvisionError {
  return new ProvisionError(
    "DEVICE_REFUSED",
    `${name} refused by device: ${printable(error)}${text ? `: ${printable(text)}` : ""}`,
    {
      where: at.port,
      hint: REFUSAL_HINTS[error],
      deviceLog: at.deviceLog,
      details: { deviceError: error, command: name },
    },
  );
}

export function protocolError(at: DeviceContext, name: string, what: string, hint?: string): ProvisionError {
  return new ProvisionError("DEVICE_PROTOCOL", `${name}: ${what}`, {
    where: at.port,
    hint: hint ?? "check the baud rate and that the device runs this tool's provisioning firmware",
    deviceLog: at.deviceLog,
    details: { command: name },
  });
}

/** Commands whose answer waits on the chip's own work (key generation, signing, flash writes). */
const SLOW_COMMANDS = new Set(["GENERATE_KEY", "GET_CSR", "COMMIT"]);

function waitText(ms: number): string {
  return ms >= 10_000 ? `${Math.round(ms / 1000)} s` : `${ms} ms`;
}

export function noAnswer(at: DeviceContext, name: string, timing: CommandTiming, t: Trouble): ProvisionError {
  const tries = `after waiting ${waitText(timing.attempts * timing.timeoutMs)} (${timing.attempts} attempt${timing.attempts === 1 ? "" : "s"} of ${timing.timeoutMs} ms)`;
  if (t.badVersion !== undefined) {
    return new ProvisionError(
      "DEVICE_PROTOCOL",
      `${name}: device answers in protocol version ${t.badVersion}, this host speaks ${PROTOCOL_VERSION} (no usable answer ${tries})`,
      {
        where: at.port,
        hint: REFUSAL_HINTS.ERR_VERSION,
        deviceLog: at.deviceLog,
        details: { command: name, deviceVersion: t.badVersion },
      },
    );
  }
  if (t.frameErrors > 0 || t.unreadableLines > 0) {
    return new ProvisionError(
      "DEVICE_PROTOCOL",
      `${name}: device sent only unreadable data (${t.frameErrors} broken frames, ${t.unreadableLines} garbled lines) ${tries}`,
      {
        where: at.port,
        hint: `check the baud rate (now ${at.baudRate}; the ROM bootloader uses 115200) and the cable, then press the board's reset button`,
        deviceLog: at.deviceLog,
        details: { command: name, frameErrors: t.frameErrors, garbledLines: t.unreadableLines },
      },
    );
  }
  if (t.partialFrame > 0) {
    return new ProvisionError(
      "DEVICE_PROTOCOL",
      `${name}: the device began answering but the answer never ended (${t.partialFrame} characters of a frame, then a pause of seconds) ${tries}`,
      {
        where: at.port,
        hint: `the line stalls or drops bytes: check the cable and the baud rate (now ${at.baudRate}), then try again`,
        deviceLog: at.deviceLog,
        details: { command: name, partialFrame: t.partialFrame },
      },
    );
  }
  const heard = at.heardLog;
  return new ProvisionError("DEVICE_SILENT", `${name}: no answer from the device ${tries}`, {
    where: at.port,
    hint: heard
      ? SLOW_COMMANDS.has(name)
        ? `the device is busy or slow: give it longer with --device-timeout ${name}=MS (or the board file's deviceTimeoutsMs), then run again; a key it made meanwhile is picked up, not made twice`
        : "the device prints log text but does not answer the protocol: is the provisioning firmware flashed? Press the reset button and try again"
      : "check the port and the baud rate, that the provisioning firmware is flashed, and press the board's reset button",
    deviceLog: at.deviceLog,
    details: { command: name, attempts: timing.attempts, timeoutMs: timing.timeoutMs },
  });
}
