/**
 * What the command table's flags take: commander argument parsers, each
 * refusing what nobody meant to type, with the message commander prints.
 */
import { InvalidArgumentError } from "commander";
import { ProvisionError } from "../errors.js";
import { DEVICE_TIMEOUT_NAMES } from "../protocol/constants.js";

export const collect = (v: string, prev: string[] = []) => [...prev, v];

/**
 * A whole-number flag: digits only (`Number` alone lets `--baud abc` through
 * as NaN, and `1e4` or `0x10` through as numbers nobody typed).
 */
export function wholeNumber(min: number) {
  return (v: string): number => {
    const n = Number(v);
    if (!/^\d+$/.test(v) || n < min) {
      throw new InvalidArgumentError(`expected a whole number (digits only) of at least ${min}`);
    }
    return n;
  };
}
export const positive = wholeNumber(1);
/** Milliseconds: digits only here; the range is the plan rule's (plan-rules.ts), whose message names it. */
export function milliseconds(range: string) {
  return (v: string): number => {
    if (!/^\d+$/.test(v))
      throw new InvalidArgumentError(`expected a whole number of ms (digits only), ${range}`);
    return Number(v);
  };
}
export const intervalMs = milliseconds("1000 to 3600000");
export const timeoutMs = milliseconds("1 to 86400000 (24 h)");
export const percentage = (v: string): number => {
  const n = Number(v);
  if (v.trim() === "" || !Number.isFinite(n)) throw new InvalidArgumentError("expected a percentage, e.g. 5");
  return n;
};
export const portNumber = (v: string): number => {
  const n = wholeNumber(0)(v);
  if (n > 65535) throw new InvalidArgumentError("expected a port number 0-65535");
  return n;
};

export function parseLocalPorts(v: string): { controlPlane: number; mqtts: number; wss: number } {
  const n = v.split(",").map(Number);
  if (n.length !== 3 || n.some((p) => !Number.isInteger(p) || p < 0 || p > 65535)) {
    throw new ProvisionError("USAGE", `--local-ports ${v}: expected three ports like 4566,8883,8443`);
  }
  return { controlPlane: n[0] ?? 0, mqtts: n[1] ?? 0, wss: n[2] ?? 0 };
}

/** `--device-timeout NAME=MS`, repeatable, into one object (names as DEVICE_TIMEOUT_NAMES, any case). */
export function deviceTimeout(v: string, prev: Record<string, number> = {}): Record<string, number> {
  const m = /^([A-Za-z_]+)=(\d+)$/.exec(v.trim());
  const name = m?.[1]?.toUpperCase() ?? "";
  if (!m || !(DEVICE_TIMEOUT_NAMES as readonly string[]).includes(name))
    throw new InvalidArgumentError(`expected NAME=MS with NAME one of ${DEVICE_TIMEOUT_NAMES.join(", ")}`);
  const ms = Number(m[2]);
  if (ms < 100 || ms > 3_600_000) throw new InvalidArgumentError("expected 100 to 3600000 ms");
  return { ...prev, [name]: ms };
}
