/**
 * The emulated-chip kit (`esp32c3-qemu-kit.tar.xz`): Espressif's ESP32-C3
 * QEMU machine with the chip's ROM, and a linking overlay that lets the
 * ESP-IDF kits link whole ESP32-C3 images with Debian's RISC-V GCC and
 * picolibc. Found in `PROVISION_CHIP_KIT_DIR` (default
 * `../shared/esp32c3-qemu-kit` beside the repository) and unpacked once
 * under `build/esp32c3-qemu-kit/`.
 *
 * With a real ESP-IDF installation (IDF_PATH and Espressif's toolchain) the
 * overlay is not used; QEMU still comes from this kit.
 */
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { PACKAGE_ROOT } from "../package-root.js";
import { unpackOnce } from "./build-tools.js";
import { BUILD_CACHE_ROOT } from "./idf.js";

const TARBALL = "esp32c3-qemu-kit.tar.xz";

export interface ChipKit {
  dir: string;
  /** `qemu-system-riscv32` with the esp32c3 machine. */
  qemu: string;
  /** Where QEMU finds the chip's ROM image (its -L). */
  qemuDataDir: string;
  /** Put first on PATH for an image build: the linking toolchain wrappers. */
  toolchainBin: string;
  /** Builds everything, links with the Wi-Fi stand-ins, makes the images and one merged flash image. */
  linkScript: string;
  /** sdkconfig fragments the kit's build needs after the project's own: all versions, then v6 only. */
  sdkconfigChip: string;
  sdkconfigChipV6: string;
}

export function chipKitSearchDir(env: NodeJS.ProcessEnv = process.env): string {
  return resolve(env.PROVISION_CHIP_KIT_DIR ?? join(PACKAGE_ROOT, "..", "shared", "esp32c3-qemu-kit"));
}

export function chipKitAvailable(env: NodeJS.ProcessEnv = process.env): boolean {
  return existsSync(join(chipKitSearchDir(env), TARBALL));
}

/** The unpacked kit, unpacking it once (a few seconds). */
export async function ensureChipKit(
  opts: { env?: NodeJS.ProcessEnv; onProgress?: (text: string) => void } = {},
): Promise<ChipKit> {
  const dir = await unpackOnce({
    tarball: join(chipKitSearchDir(opts.env), TARBALL),
    target: join(BUILD_CACHE_ROOT, "esp32c3-qemu-kit"),
    inner: "esp32c3-qemu-kit",
    readyFile: join("qemu", "bin", "qemu-system-riscv32"),
    what: "the emulated ESP32-C3 kit",
    missingHint: `set PROVISION_CHIP_KIT_DIR to the folder holding ${TARBALL}`,
    onProgress: opts.onProgress,
  });
  return {
    dir,
    qemu: join(dir, "qemu", "bin", "qemu-system-riscv32"),
    qemuDataDir: join(dir, "qemu", "share", "qemu"),
    toolchainBin: join(dir, "overlay", "toolchain", "bin"),
    linkScript: join(dir, "scripts", "link-image.sh"),
    sdkconfigChip: join(dir, "sdkconfig", "chip.defaults"),
    sdkconfigChipV6: join(dir, "sdkconfig", "chip-v6.defaults"),
  };
}
