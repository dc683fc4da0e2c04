/**
 * The device kinds the integration tests run against, each a real program on
 * a pseudo-terminal: the twin (the C core on Linux) and the idf-linux device
 * (the ESP-IDF port itself, built for ESP-IDF's linux target) with each ESP-IDF
 * the port is checked on. A kit that is missing makes its tests fail with
 * "the ESP-IDF kit vX is not available", never skip.
 */
import { execFile } from "node:child_process";
import { createPrivateKey, createPublicKey, type KeyObject } from "node:crypto";
import { readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { startEmulatedChip } from "../src/emulator/emulated-chip.js";
import { type ChipImage, ensureChipImageBuilt } from "../src/firmware/chip-image.js";
import { IDF_VERSION_CHECKED, resolveIdf } from "../src/firmware/idf.js";
import { ensureIdfLinuxBuilt } from "../src/firmware/idf-linux.js";
import { KEY_STORE } from "../src/protocol/index.js";
import { startTwin, type Twin, type TwinOptions } from "../src/twin/index.js";

const run = promisify(execFile);

/** How long a first idf-linux build may take on a loaded 2-core CI machine (about a minute when idle). */
export const IDF_LINUX_BUILD_TIMEOUT_MS = 600_000;

export interface DeviceKind {
  /** "twin", "idf-linux v5.5.5", ... */
  name: string;
  /** The key store the device offers (wire value). */
  keyStore: number;
  /** The kit version for idf-linux. */
  idf?: string;
  /** Builds the firmware if needed (idf-linux: a minute the first time). */
  build(): Promise<void>;
  start(stateDir: string, extra?: Partial<TwinOptions>): Promise<Twin>;
  /** The device's private key as the device stores it, read from its flash (the test's eyes only). */
  privateKey(device: Twin, publicKeySpki: Buffer): Promise<KeyObject>;
  /** `provision sim` arguments that start this kind. */
  simArgs: string[];
}

export const TWIN_KIND: DeviceKind = {
  name: "twin",
  keyStore: KEY_STORE.FILE,
  build: async () => undefined,
  start: (stateDir, extra) => startTwin({ stateDir, ...extra }),
  privateKey: async (device) =>
    createPrivateKey(await readFile(join(device.stateDir, "key-active.pem"), "utf8")),
  simArgs: ["--board", "twin"],
};

export function idfLinuxKind(kitVersion: string): DeviceKind {
  return {
    name: `idf-linux v${kitVersion}`,
    keyStore: KEY_STORE.NVS,
    idf: kitVersion,
    build: async () => {
      await ensureIdfLinuxBuilt({ kitVersion });
    },
    start: (stateDir, extra) => startTwin({ stateDir, firmware: "idf-linux", idf: { kitVersion }, ...extra }),
    privateKey: (device, spki) => idfLinuxPrivateKey(device.stateDir, kitVersion, spki),
    simArgs: ["--board", "idf-linux", "--idf", kitVersion],
  };
}

export const IDF_LINUX_KINDS: DeviceKind[] = IDF_VERSION_CHECKED.map(idfLinuxKind);
export const DEVICE_KINDS: DeviceKind[] = [TWIN_KIND, ...IDF_LINUX_KINDS];

/** How long a clean chip image build may take on a loaded 2-core CI machine (about a minute when idle). */
export const CHIP_IMAGE_BUILD_TIMEOUT_MS = 900_000;
export const EMULATED_BOARD = "esp32-c3-devkitm-1";

/**
 * The rendered esp32-c3-devkitm-1 firmware (key store nvs), linked as a
 * whole image with an ESP-IDF kit and booted on the emulated ESP32-C3. It
 * has no network: tests that need a publish leave it out.
 */
export function emulatedChipKind(kitVersion: string): DeviceKind {
  let image: ChipImage | undefined;
  const built = async () => {
    image ??= await ensureChipImageBuilt({ board: EMULATED_BOARD, keyStore: "nvs", kitVersion });
    return image;
  };
  return {
    name: `emulated esp32c3 v${kitVersion}`,
    keyStore: KEY_STORE.NVS,
    idf: kitVersion,
    build: async () => {
      await built();
    },
    start: async (stateDir) => startEmulatedChip({ stateDir, image: await built() }),
    privateKey: async (device, spki) =>
      matchingKey(
        await keysInNvs(join(device.stateDir, "flash.bin"), device.stateDir, kitVersion),
        spki,
        device.stateDir,
      ),
    simArgs: ["--board", EMULATED_BOARD, "--emulate", "--key-store", "nvs", "--idf", kitVersion],
  };
}

export const EMULATED_CHIP_KINDS: DeviceKind[] = IDF_VERSION_CHECKED.map(emulatedChipKind);

const spkiOf = (k: KeyObject) => k.export({ type: "spki", format: "der" });

/** Partition `label`'s bytes from a flash image (the ESP-IDF partition table at 0x8000). */
function partition(flash: Buffer, label: string): Buffer {
  for (let off = 0x8000; off + 32 <= 0x8c00; off += 32) {
    if (flash.readUInt16LE(off) !== 0x50aa) break;
    const name = flash
      .subarray(off + 12, off + 28)
      .toString("latin1")
      .replace(/\0.*$/s, "");
    if (name === label)
      return flash.subarray(
        flash.readUInt32LE(off + 4),
        flash.readUInt32LE(off + 4) + flash.readUInt32LE(off + 8),
      );
  }
  throw new Error(`no partition ${label} in the flash image`);
}

/**
 * Every key the device could hold, from its flash:
 * - Mbed TLS 3 (ESP-IDF v5): the private key DER in the NVS records k0/k1 of
 *   namespace prov_key, read with ESP-IDF's own NVS parser (nvs_tool.py);
 * - Mbed TLS 4 (ESP-IDF v6): PSA's key files in the state dir (ITS header,
 *   then PSA's key storage format; EC keys as the raw scalar).
 */
async function idfLinuxPrivateKey(stateDir: string, kitVersion: string, spki: Buffer): Promise<KeyObject> {
  const candidates = await keysInNvs(join(stateDir, "flash.bin"), stateDir, kitVersion);
  // Mbed TLS 4 on the linux target: PSA's internal trusted storage is files beside the flash.
  for (const f of (await readdir(stateDir)).filter((n) => n.endsWith(".psa_its")))
    candidates.push(...keyInIts(await readFile(join(stateDir, f))));
  return matchingKey(candidates, spki, stateDir);
}

function matchingKey(candidates: KeyObject[], spki: Buffer, where: string): KeyObject {
  const match = candidates.find((k) => spkiOf(createPublicKey(k)).equals(spki));
  if (!match)
    throw new Error(
      `no private key in ${where} matches the device's public key (${candidates.length} candidates)`,
    );
  return match;
}

/**
 * The keys in a flash image's NVS partition, read with ESP-IDF's own NVS
 * parser (nvs_tool.py): Mbed TLS 3 (ESP-IDF v5) keeps the private key DER in
 * the records k0/k1 of namespace prov_key; on a chip, Mbed TLS 4 (v6) keeps
 * PSA's internal trusted storage in NVS namespace psa_its.
 */
async function keysInNvs(flashFile: string, scratchDir: string, kitVersion: string) {
  const candidates: KeyObject[] = [];
  const idf = await resolveIdf({ kitVersion });
  const nvs = join(scratchDir, "nvs-dump.bin");
  await writeFile(nvs, partition(await readFile(flashFile), "nvs"));
  const tool = join(idf.idfPath, "components", "nvs_flash", "nvs_partition_tool", "nvs_tool.py");
  const { stdout } = await run("/usr/bin/python3", [tool, "-d", "minimal", "-f", "json", nvs], {
    maxBuffer: 1 << 22,
  });
  for (const e of JSON.parse(stdout) as { namespace: string; key: string; data: unknown }[]) {
    if (typeof e.data !== "string") continue;
    const data = Buffer.from(e.data, "base64");
    if (e.namespace === "psa_its") candidates.push(...keyInIts(data));
    if (e.namespace !== "prov_key" || !/^k[01]$/.test(e.key)) continue;
    const der = data.subarray(1); // [key type][DER]
    for (const type of ["sec1", "pkcs1"] as const) {
      try {
        candidates.push(createPrivateKey({ key: der, format: "der", type }));
      } catch {
        // the other encoding, or a PSA key id (v6), which holds no key material
      }
    }
  }
  return candidates;
}

/** Named-curve OIDs (DER) by key size in bits: P-256, P-384. */
const CURVE_OIDS: Record<number, Buffer> = {
  256: Buffer.from("06082a8648ce3d030107", "hex"),
  384: Buffer.from("06052b81040022", "hex"),
};

/** A key in PSA's ITS format: an ITS header; then "PSA\0KEY\0", version, lifetime, type, bits, policy, data. */
function keyInIts(file: Buffer): KeyObject[] {
  // The ITS header is 16 bytes in PSA's file backend (linux target), 12 in ESP-IDF's NVS backend (chip).
  const at = file.subarray(0, 32).indexOf("PSA\0KEY\0", 0, "latin1");
  if (at < 0) return [];
  const key = file.subarray(at);
  const data = key.subarray(36, 36 + key.readUInt32LE(32));
  if ((key.readUInt16LE(16) & 0xff00) === 0x7100 /* PSA_KEY_TYPE_ECC_KEY_PAIR(family) */) {
    // The raw scalar alone, as SEC1 without the public key: OpenSSL derives the public key from it, so a
    // match below proves this scalar is the device's key.
    const curve = CURVE_OIDS[key.readUInt16LE(18)];
    if (!curve) return [];
    const body = Buffer.concat([
      Buffer.from([0x02, 0x01, 0x01, 0x04, data.length]),
      data,
      Buffer.from([0xa0, curve.length]),
      curve,
    ]);
    return [
      createPrivateKey({
        key: Buffer.concat([Buffer.from([0x30, body.length]), body]),
        format: "der",
        type: "sec1",
      }),
    ];
  }
  return [createPrivateKey({ key: data, format: "der", type: "pkcs1" })];
}

/** A private key as a PEM file in the form the key stores keep it (SEC1 / PKCS#1), for openssl. */
export async function writeKeyPem(key: KeyObject, file: string): Promise<string> {
  const type = key.asymmetricKeyType === "rsa" ? "pkcs1" : "sec1";
  await writeFile(file, key.export({ type, format: "pem" }) as string, { mode: 0o600 });
  return file;
}
