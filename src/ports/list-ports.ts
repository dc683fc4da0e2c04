/**
 * Serial port discovery: serialport's list() (udev) enriched with what only
 * sysfs knows (USB location, product string), or sysfs alone where udevadm
 * is missing or fails. Each port gets a board guess from its USB ids through
 * a lookup the caller passes (the boards module's guessBoardByUsb).
 */
import { basename } from "node:path";
import type createDebugType from "debug";
import { requireCommonJs } from "../require-commonjs.js";
import { serialBinding } from "../serial-binding.js";
import { listSysfsPorts, SYSFS_ROOT_DEFAULT, type SysfsPort } from "./sysfs.js";

// CommonJS, required (src/require-commonjs.ts) on first use: opening a port loads this module (for a
// board guess from the port's USB ids) but lists nothing, and a start should not load debug for it.
const debug = (format: string, ...args: unknown[]) =>
  (requireCommonJs("debug") as typeof createDebugType)("provision:ports")(format, ...args);

/** What a port is; `usbLocation` stays with the physical socket. */
export interface PortDescription
  extends Pick<
    SysfsPort,
    "path" | "vid" | "pid" | "serialNumber" | "manufacturer" | "product" | "usbLocation"
  > {
  /** Most likely board id, when the USB ids point to one. */
  boardGuess?: string;
  /** Every board id the USB ids match (a bridge chip is shared by many boards). */
  boardCandidates: string[];
  /** Where the facts came from. */
  source: "udev" | "sysfs";
}

/** What a board lookup may return: guessBoardByUsb's Board[], one board, or an id. */
export type BoardLookupResult = ReadonlyArray<{ id: string }> | { id: string } | string | undefined;
export type BoardLookup = (vid: string, pid: string) => BoardLookupResult;

/** The subset of serialport's PortInfo used here. */
export interface UdevPortInfo {
  path: string;
  manufacturer?: string;
  serialNumber?: string;
  vendorId?: string;
  productId?: string;
  locationId?: string;
}

export interface ListPortsOptions {
  /** Default /sys; tests pass a fake tree. */
  sysfsRoot?: string;
  /** Default: the native binding's list (serialport's SerialPort.list). */
  udevList?: () => Promise<UdevPortInfo[]>;
  guessBoard?: BoardLookup;
  /** Only ports with USB ids (default true): on-board UARTs and placeholders are not devices to provision. */
  usbOnly?: boolean;
}

function boardIds(r: BoardLookupResult): string[] {
  if (r === undefined) return [];
  if (typeof r === "string") return [r];
  if (Array.isArray(r)) return (r as ReadonlyArray<{ id: string }>).map((b) => b.id);
  return [(r as { id: string }).id];
}

function hex4(v: string | undefined): string | undefined {
  return v === undefined ? undefined : v.toLowerCase().replace(/^0x/, "").padStart(4, "0");
}

export async function listPorts(options: ListPortsOptions = {}): Promise<PortDescription[]> {
  const sysfsRoot = options.sysfsRoot ?? SYSFS_ROOT_DEFAULT;
  const sysfs = await listSysfsPorts(sysfsRoot);
  const byName = new Map<string, SysfsPort>(sysfs.map((p) => [p.name, p]));
  let ports: PortDescription[];
  try {
    const udev = await (options.udevList ?? (() => serialBinding().list()))();
    ports = udev.map((u) => {
      const s = byName.get(basename(u.path));
      return {
        path: u.path,
        vid: hex4(u.vendorId) ?? s?.vid,
        pid: hex4(u.productId) ?? s?.pid,
        serialNumber: u.serialNumber ?? s?.serialNumber,
        manufacturer: u.manufacturer ?? s?.manufacturer,
        product: s?.product,
        usbLocation: s?.usbLocation ?? u.locationId,
        boardCandidates: [],
        source: "udev" as const,
      };
    });
  } catch (e) {
    // `spawn udevadm ENOENT` on minimal systems, or a udevadm that fails: sysfs has the same facts.
    debug("udev listing failed (%s), using %s", (e as Error).message, sysfsRoot);
    ports = sysfs.map((s) => ({
      path: s.path,
      vid: s.vid,
      pid: s.pid,
      serialNumber: s.serialNumber,
      manufacturer: s.manufacturer,
      product: s.product,
      usbLocation: s.usbLocation,
      boardCandidates: [],
      source: "sysfs" as const,
    }));
  }
  if (options.usbOnly ?? true) ports = ports.filter((p) => p.vid !== undefined && p.pid !== undefined);
  for (const p of ports) {
    if (options.guessBoard && p.vid && p.pid) {
      p.boardCandidates = boardIds(options.guessBoard(p.vid, p.pid));
      p.boardGuess = p.boardCandidates[0];
    }
  }
  return ports.sort(
    (a, b) =>
      (a.usbLocation ?? a.path).localeCompare(b.usbLocation ?? b.path) || a.path.localeCompare(b.path),
  );
}
