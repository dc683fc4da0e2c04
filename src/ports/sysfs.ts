/**
 * Serial ports from Linux sysfs, for machines without udevadm (minimal
 * Debian, containers), where serialport's list() fails with
 * `spawn udevadm ENOENT`. /sys/class/tty/NAME/device points into the device
 * tree; for a USB adapter, walking up from there reaches the USB interface
 * directory (its name, e.g. `1-1.3:1.0`, is the bus-port path: stable per
 * physical socket, which is what a fixture slot needs) and then the USB
 * device directory holding idVendor, idProduct, serial, manufacturer, product.
 */
import { readdir, readFile, realpath } from "node:fs/promises";
import { basename, dirname, join, relative } from "node:path";

export const SYSFS_ROOT_DEFAULT = "/sys";

/** `1-1.3:1.0`: bus-port[.port...]:config.interface. */
const USB_INTERFACE_DIR = /^\d+-[\d.]+:\d+\.\d+$/;

export interface SysfsPort {
  /** Device node, /dev/NAME. */
  path: string;
  name: string;
  /** USB vendor id, 4 lowercase hex digits. */
  vid?: string;
  pid?: string;
  serialNumber?: string;
  manufacturer?: string;
  product?: string;
  /** USB interface directory name, e.g. "1-1.3:1.0". */
  usbLocation?: string;
  /** Kernel driver of the tty's device (cp210x, ch341, ftdi_sio, cdc_acm, serial8250...). */
  driver?: string;
}

async function readAttr(dir: string, name: string): Promise<string | undefined> {
  try {
    const v = (await readFile(join(dir, name), "utf8")).trim();
    return v === "" ? undefined : v;
  } catch {
    return undefined;
  }
}

async function driverOf(deviceDir: string): Promise<string | undefined> {
  try {
    return basename(await realpath(join(deviceDir, "driver")));
  } catch {
    return undefined;
  }
}

/** Describes one tty; undefined when it has no device (virtual consoles, ptys). */
export async function describeSysfsTty(
  name: string,
  sysfsRoot = SYSFS_ROOT_DEFAULT,
): Promise<SysfsPort | undefined> {
  let deviceDir: string;
  try {
    deviceDir = await realpath(join(sysfsRoot, "class", "tty", name, "device"));
  } catch {
    return undefined;
  }
  const root = await realpath(sysfsRoot);
  const port: SysfsPort = { path: `/dev/${name}`, name, driver: await driverOf(deviceDir) };
  // Walk up, never leaving the sysfs root.
  for (
    let dir = deviceDir;
    relative(root, dir) !== "" && !relative(root, dir).startsWith("..");
    dir = dirname(dir)
  ) {
    const base = basename(dir);
    if (port.usbLocation === undefined && USB_INTERFACE_DIR.test(base)) port.usbLocation = base;
    const vid = await readAttr(dir, "idVendor");
    const pid = await readAttr(dir, "idProduct");
    if (vid !== undefined && pid !== undefined) {
      port.vid = vid.toLowerCase();
      port.pid = pid.toLowerCase();
      port.serialNumber = await readAttr(dir, "serial");
      port.manufacturer = await readAttr(dir, "manufacturer");
      port.product = await readAttr(dir, "product");
      // A device without an interface dir in the path (unusual) still gets its bus-port path.
      port.usbLocation ??= base;
      break;
    }
  }
  return port;
}

/** Every tty under sysfsRoot/class/tty that has a device behind it. */
export async function listSysfsPorts(sysfsRoot = SYSFS_ROOT_DEFAULT): Promise<SysfsPort[]> {
  let names: string[];
  try {
    names = await readdir(join(sysfsRoot, "class", "tty"));
  } catch {
    return [];
  }
  const ports = await Promise.all(names.sort().map((n) => describeSysfsTty(n, sysfsRoot)));
  return ports.filter((p): p is SysfsPort => p !== undefined);
}
