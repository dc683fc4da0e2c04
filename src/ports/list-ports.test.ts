import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { guessBoardByUsb } from "../boards/index.js";
import { listPorts, listSysfsPorts } from "./index.js";

// A fake sysfs with the same shape as a real one: class/tty/NAME/device are
// relative symlinks into devices/, USB attributes live on the USB device dir.
let root: string;

function usbDevice(devPath: string, attrs: Record<string, string>): void {
  mkdirSync(join(root, devPath), { recursive: true });
  for (const [k, v] of Object.entries(attrs)) writeFileSync(join(root, devPath, k), `${v}\n`);
}

function tty(name: string, deviceTarget?: string, driver?: string): void {
  mkdirSync(join(root, "class/tty", name), { recursive: true });
  if (deviceTarget === undefined) return;
  mkdirSync(join(root, deviceTarget), { recursive: true });
  symlinkSync(join("../../..", deviceTarget), join(root, "class/tty", name, "device"));
  if (driver) {
    mkdirSync(join(root, "bus/usb-serial/drivers", driver), { recursive: true });
    symlinkSync(join(root, "bus/usb-serial/drivers", driver), join(root, deviceTarget, "driver"));
  }
}

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), "fake-sysfs-"));
  const hub = "devices/pci0000:00/0000:00:14.0/usb1";
  // CP2102 behind a hub port: usb-serial puts ttyUSB0 under the interface dir.
  usbDevice(`${hub}/1-1/1-1.3`, {
    idVendor: "10c4",
    idProduct: "ea60",
    serial: "0001",
    manufacturer: "Silicon Labs",
    product: "CP2102 USB to UART Bridge Controller",
  });
  tty("ttyUSB0", `${hub}/1-1/1-1.3/1-1.3:1.0/ttyUSB0`, "cp210x");
  // ESP32-S3 USB-Serial-JTAG: cdc_acm's device link is the interface dir itself.
  usbDevice(`${hub}/1-2`, {
    idVendor: "303A",
    idProduct: "1001",
    serial: "F4:12:FA:00:11:22",
    manufacturer: "Espressif",
    product: "USB JTAG/serial debug unit",
  });
  tty("ttyACM0", `${hub}/1-2/1-2:1.0`);
  // An on-board UART placeholder and a virtual console.
  tty("ttyS0", "devices/platform/serial8250/tty/ttyS0");
  tty("tty0");
});

afterAll(() => rmSync(root, { recursive: true, force: true }));

describe("sysfs fallback", () => {
  it("reads ids, strings and the bus-port location of USB ttys", async () => {
    const ports = await listSysfsPorts(root);
    expect(ports.map((p) => p.name)).toEqual(["ttyACM0", "ttyS0", "ttyUSB0"]);
    const usb0 = ports.find((p) => p.name === "ttyUSB0");
    expect(usb0).toMatchObject({
      path: "/dev/ttyUSB0",
      vid: "10c4",
      pid: "ea60",
      serialNumber: "0001",
      manufacturer: "Silicon Labs",
      product: "CP2102 USB to UART Bridge Controller",
      usbLocation: "1-1.3:1.0",
      driver: "cp210x",
    });
    expect(ports.find((p) => p.name === "ttyACM0")).toMatchObject({
      vid: "303a",
      pid: "1001",
      usbLocation: "1-2:1.0",
    });
    expect(ports.find((p) => p.name === "ttyS0")?.vid).toBeUndefined();
  });

  it("listPorts falls back to sysfs when udevadm is missing, keeps USB ports and guesses boards", async () => {
    const missing = Object.assign(new Error("spawn udevadm ENOENT"), { code: "ENOENT" });
    const ports = await listPorts({
      sysfsRoot: root,
      udevList: () => Promise.reject(missing),
      guessBoard: (vid, pid) => guessBoardByUsb(vid, pid),
    });
    expect(ports.map((p) => [p.path, p.usbLocation, p.source])).toEqual([
      ["/dev/ttyUSB0", "1-1.3:1.0", "sysfs"],
      ["/dev/ttyACM0", "1-2:1.0", "sysfs"],
    ]);
    // The boards module's own table decides; a CP2102 is on several boards.
    const expected = guessBoardByUsb("10c4", "ea60").map((b) => b.id);
    expect(ports[0]?.boardCandidates).toEqual(expected);
    expect(ports[0]?.boardGuess).toBe(expected[0]);
  });

  it("merges udev's answer with what only sysfs knows (location, product)", async () => {
    const ports = await listPorts({
      sysfsRoot: root,
      udevList: async () => [
        {
          path: "/dev/ttyUSB0",
          vendorId: "10C4",
          productId: "EA60",
          serialNumber: "0001",
          manufacturer: "Silicon_Labs",
        },
      ],
    });
    expect(ports).toEqual([
      {
        path: "/dev/ttyUSB0",
        vid: "10c4",
        pid: "ea60",
        serialNumber: "0001",
        manufacturer: "Silicon_Labs",
        product: "CP2102 USB to UART Bridge Controller",
        usbLocation: "1-1.3:1.0",
        boardCandidates: [],
        source: "udev",
      },
    ]);
  });

  it("a real call on this machine does not throw", async () => {
    const ports = await listPorts({ usbOnly: false });
    expect(Array.isArray(ports)).toBe(true);
    for (const p of ports) expect(p.path).toMatch(/^\/dev\//);
  });
});
