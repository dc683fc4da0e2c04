/**
 * Where ESP-IDF is, which version it is, and how to run its build.
 *
 * Two sources, in this order:
 * - `IDF_PATH` (set by ESP-IDF's export.sh, or given as `idfPath`): a real
 *   installation whose environment the user has already set up;
 * - the ESP-IDF kit (`esp-idf-kit-v<version>.tar.xz` in
 *   `PROVISION_IDF_KIT_DIR`, default `../shared/esp-idf-kit` beside the
 *   repository): real ESP-IDF sources with wrappers around Debian's
 *   compilers, unpacked once under `build/esp-idf-kit/v<version>/`. It is how
 *   this repository's CI compiles the port and builds the `idf-linux` device
 *   without Espressif's installer or network access.
 *
 * A kit's IDF_PATH is recognised as such (its `toolchain/` and `python/`
 * folders sit beside `esp-idf/`) and gets the kit's environment too.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { ProvisionError } from "../errors.js";

import { PACKAGE_ROOT } from "../package-root.js";
import { runTool, unpackOnce } from "./build-tools.js";
import { localComponents } from "./component-manifest.js";
import { compareVersions, type IdfVersion, parseVersion } from "./idf-version.js";

export { compareVersions, type IdfVersion, parseVersion } from "./idf-version.js";

/** Where kits are unpacked; inside build/ so that git never sees them. */
export const BUILD_CACHE_ROOT = join(PACKAGE_ROOT, "build");
export const KIT_UNPACK_DIR = join(BUILD_CACHE_ROOT, "esp-idf-kit");
const KIT_TARBALL = /^esp-idf-kit-v(\d+\.\d+\.\d+)\.tar\.xz$/;

/** The oldest and newest ESP-IDF the port is written and checked for (docs/firmware.md). */
export const IDF_VERSION_MIN = "5.2.0";
export const IDF_VERSION_CHECKED = ["5.5.5", "6.0.2"] as const;

export interface Idf {
  /** The esp-idf folder (IDF_PATH). */
  idfPath: string;
  version: IdfVersion;
  /** The kit folder when IDF_PATH belongs to one. */
  kitDir: string | undefined;
  /** Environment for cmake and ninja: the caller's, plus IDF_PATH and the kit's tools. */
  env: NodeJS.ProcessEnv;
  /** Extra `cmake` arguments the kit needs (Debian's python, no compiler probes, its extra components). */
  cmakeArgs: string[];
}

/** Folder holding the kit tarballs. */
export function kitSearchDir(env: NodeJS.ProcessEnv = process.env): string {
  return resolve(env.PROVISION_IDF_KIT_DIR ?? join(PACKAGE_ROOT, "..", "shared", "esp-idf-kit"));
}

/** Kit versions whose tarball is available, oldest first. */
export function availableKits(env: NodeJS.ProcessEnv = process.env): string[] {
  const dir = kitSearchDir(env);
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .flatMap((f) => {
      const m = KIT_TARBALL.exec(f);
      return m?.[1] ? [m[1]] : [];
    })
    .sort(compareVersions);
}

/** The version an ESP-IDF tree declares in tools/cmake/version.cmake (what its build uses too). */
export function readIdfVersion(idfPath: string): IdfVersion {
  const file = join(idfPath, "tools", "cmake", "version.cmake");
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    throw new ProvisionError(
      "CONFIG",
      "this is not an ESP-IDF folder: tools/cmake/version.cmake is missing",
      {
        where: idfPath,
        hint: "point IDF_PATH at the esp-idf folder (run ESP-IDF's export.sh), or unset it to use the kit",
        cause: e,
      },
    );
  }
  const part = (name: string) => new RegExp(`IDF_VERSION_${name}\\s+(\\d+)`).exec(text)?.[1];
  const [major, minor, patch] = [part("MAJOR"), part("MINOR"), part("PATCH")];
  if (major === undefined || minor === undefined || patch === undefined)
    throw new ProvisionError("CONFIG", "cannot read the ESP-IDF version", { where: file });
  return parseVersion(`${major}.${minor}.${patch}`);
}

/**
 * Refuses versions the port does not build on (below 5.2: no HMAC-based NVS
 * encryption, no nvs_sec_provider, older driver and VFS APIs), and says so
 * for versions newer than any it was checked on. Returns a warning or "".
 */
export function checkIdfVersion(version: IdfVersion, where: string): string {
  if (compareVersions(version.text, IDF_VERSION_MIN) < 0)
    throw new ProvisionError("CONFIG", `ESP-IDF v${version.text} is too old for the provisioning firmware`, {
      where,
      hint: `use ESP-IDF v5.2 or newer (checked: ${IDF_VERSION_CHECKED.map((v) => `v${v}`).join(", ")})`,
    });
  const newest = IDF_VERSION_CHECKED[IDF_VERSION_CHECKED.length - 1] ?? IDF_VERSION_MIN;
  const newestMinor = parseVersion(newest);
  if (
    version.major > newestMinor.major ||
    (version.major === newestMinor.major && version.minor > newestMinor.minor)
  )
    return `ESP-IDF v${version.text} is newer than any version the firmware was checked on (newest: v${newest}); it may not build`;
  return "";
}

function kitRootOf(idfPath: string): string | undefined {
  const root = dirname(resolve(idfPath));
  return existsSync(join(root, "toolchain", "bin")) && existsSync(join(root, "python", "esp-idf-kconfig"))
    ? root
    : undefined;
}

function kitEnvironment(kitDir: string, idfPath: string, base: NodeJS.ProcessEnv): Idf["env"] {
  const python = ["esp-idf-kconfig", "esptool"]
    .map((p) => join(kitDir, "python", p))
    .filter((p) => existsSync(p));
  return {
    ...base,
    IDF_PATH: idfPath,
    PATH: `${join(kitDir, "toolchain", "bin")}:${base.PATH ?? ""}`,
    PYTHONPATH: [...python, ...(base.PYTHONPATH ? [base.PYTHONPATH] : [])].join(":"),
    // Managed components come from the kit's components-extra/: no registry here.
    IDF_COMPONENT_MANAGER: "0",
  };
}

function kitCmakeArgs(kitDir: string): string[] {
  return [
    `-DEXTRA_COMPONENT_DIRS=${join(kitDir, "components-extra")}`,
    // Debian's python has the packages the kit's README lists; a pyenv shim may not.
    "-DPYTHON=/usr/bin/python3",
    "-DPYTHON_DEPS_CHECKED=1",
    "-DCMAKE_C_COMPILER_WORKS=1",
    "-DCMAKE_CXX_COMPILER_WORKS=1",
  ];
}

/** The unpacked kit of this version, unpacking its tarball once (about 15 s). */
export async function ensureKit(
  version: string,
  opts: { env?: NodeJS.ProcessEnv; onProgress?: (text: string) => void } = {},
): Promise<string> {
  const target = join(KIT_UNPACK_DIR, `v${version}`);
  const tarball = join(kitSearchDir(opts.env), `esp-idf-kit-v${version}.tar.xz`);
  return unpackOnce({
    tarball,
    target,
    inner: "esp-idf-kit",
    readyFile: join("esp-idf", "tools", "cmake", "version.cmake"),
    what: `the ESP-IDF kit v${version}`,
    missingHint:
      "set PROVISION_IDF_KIT_DIR to the folder with esp-idf-kit-v*.tar.xz, or set IDF_PATH to an ESP-IDF installation",
    onProgress: opts.onProgress,
  });
}

export interface ResolveIdfOptions {
  /** An ESP-IDF folder; default: $IDF_PATH, else a kit. */
  idfPath?: string;
  /** Kit version to use when there is no IDF_PATH; default: the newest available. */
  kitVersion?: string;
  env?: NodeJS.ProcessEnv;
  onProgress?: (text: string) => void;
}

/** The `--idf` option: a kit version ("6.0.2") or an ESP-IDF folder. */
export function idfSelection(value: string | undefined): ResolveIdfOptions {
  if (value === undefined) return {};
  return /^v?\d+\.\d+\.\d+$/.test(value) ? { kitVersion: value.replace(/^v/, "") } : { idfPath: value };
}

/** Finds ESP-IDF (see the top of this file); throws CONFIG with what to do when there is none. */
export async function resolveIdf(opts: ResolveIdfOptions = {}): Promise<Idf> {
  const base = opts.env ?? process.env;
  const explicit = opts.idfPath ?? (opts.kitVersion ? undefined : base.IDF_PATH);
  let idfPath: string;
  if (explicit) {
    idfPath = resolve(explicit);
  } else {
    const kits = availableKits(base);
    const version = opts.kitVersion ?? kits[kits.length - 1];
    if (!version)
      throw new ProvisionError(
        "CONFIG",
        "no ESP-IDF found: IDF_PATH is not set and there is no ESP-IDF kit",
        {
          where: kitSearchDir(base),
          hint: "install ESP-IDF v5.2+ and run its export.sh (sets IDF_PATH), or set PROVISION_IDF_KIT_DIR to a folder with esp-idf-kit-v*.tar.xz",
        },
      );
    idfPath = join(await ensureKit(version, { env: base, onProgress: opts.onProgress }), "esp-idf");
  }
  const version = readIdfVersion(idfPath);
  const kitDir = kitRootOf(idfPath);
  return {
    idfPath,
    version,
    kitDir,
    env: kitDir ? kitEnvironment(kitDir, idfPath, base) : { ...base, IDF_PATH: idfPath },
    cmakeArgs: kitDir ? kitCmakeArgs(kitDir) : [],
  };
}

export interface IdfStepResult {
  ok: boolean;
  output: string;
}

/**
 * The EXTRA_COMPONENT_DIRS argument: the kit's, plus, when the component
 * manager is off, the local dependencies of the project's manifests (what the
 * manager would hand the build; component-manifest.ts). Folders under the
 * project's components/ are found by ESP-IDF itself.
 */
export function componentDirsArgs(idf: Idf, projectDir: string, target: string): string[] {
  const given = idf.cmakeArgs.filter((a) => a.startsWith("-DEXTRA_COMPONENT_DIRS="));
  const dirs = given.flatMap((a) => a.slice("-DEXTRA_COMPONENT_DIRS=".length).split(";")).filter(Boolean);
  if (idf.env.IDF_COMPONENT_MANAGER === "0") {
    const own = join(resolve(projectDir), "components");
    for (const c of localComponents(projectDir, { idfVersion: idf.version, target }, idf.env))
      if (dirname(c.dir) !== own && !dirs.includes(c.dir)) dirs.push(c.dir);
  }
  return dirs.length > 0 ? [`-DEXTRA_COMPONENT_DIRS=${dirs.join(";")}`] : [];
}

/** `cmake -G Ninja` for a project: writes build/config/sdkconfig.h, compile_commands.json and the sdkconfig. */
export async function configureIdfProject(opts: {
  idf: Idf;
  projectDir: string;
  buildDir: string;
  target: string;
  extraArgs?: string[];
  /**
   * Build only main and what it requires (default). The kits lack components
   * (bt, ...) that ESP-IDF's full list would pull in; a real installation
   * building a whole image takes the full list, as idf.py does.
   */
  allComponents?: boolean;
}): Promise<IdfStepResult> {
  const args = [
    "-G",
    "Ninja",
    "-S",
    opts.projectDir,
    "-B",
    opts.buildDir,
    `-DIDF_TARGET=${opts.target}`,
    ...(opts.allComponents ? [] : ["-DCOMPONENTS=main"]),
    `-DSDKCONFIG=${join(opts.buildDir, "sdkconfig")}`,
    ...opts.idf.cmakeArgs.filter((a) => !a.startsWith("-DEXTRA_COMPONENT_DIRS=")),
    ...componentDirsArgs(opts.idf, opts.projectDir, opts.target),
    ...(opts.extraArgs ?? []),
  ];
  const r = await runTool("cmake", args, { env: opts.idf.env });
  if (r.spawnError)
    throw new ProvisionError("CONFIG", `cannot run cmake: ${r.spawnError.message}`, {
      hint: "install cmake and ninja-build (Debian: apt-get install -y cmake ninja-build)",
      cause: r.spawnError,
    });
  return { ok: r.code === 0, output: r.output };
}

/** `ninja` in a configured build folder. */
export async function buildIdfProject(opts: { idf: Idf; buildDir: string }): Promise<IdfStepResult> {
  const r = await runTool("ninja", ["-C", opts.buildDir], { env: opts.idf.env });
  if (r.spawnError)
    throw new ProvisionError("CONFIG", `cannot run ninja: ${r.spawnError.message}`, {
      hint: "install ninja-build (Debian: apt-get install -y ninja-build)",
      cause: r.spawnError,
    });
  return { ok: r.code === 0, output: r.output };
}
