/**
 * Builds for ESP-IDF's linux target (cmake + ninja): the idf-linux device
 * (the counter example rendered for board `idf-linux`), and any other
 * ESP-IDF project that adds the provision component, such as a product (its
 * local dependencies come from its manifests: component-manifest.ts). Each
 * is a real ESP-IDF application that runs on this host on a pseudo-terminal.
 *
 * Cached per ESP-IDF: the project and its build folder live in
 * build/idf-linux/<idf>/ (a project elsewhere keeps its sources and gets a
 * build folder there), the render only rewrites files whose content changed
 * (so ninja rebuilds only what depends on them), and a stamp with the hash of
 * every input (templates, component, core, board file or project, ESP-IDF
 * path and version) skips even the ninja run when nothing changed.
 */
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { basename, join, resolve, sep } from "node:path";
import { ProvisionError } from "../errors.js";
import { withDirLock } from "./build-tools.js";
import { localComponents } from "./component-manifest.js";
import {
  buildIdfProject,
  configureIdfProject,
  type Idf,
  REPO_ROOT,
  type ResolveIdfOptions,
  resolveIdf,
} from "./idf.js";
import { FIRMWARE_TEMPLATES_DIR_DEFAULT, renderFirmware } from "./render.js";

export const IDF_LINUX_BOARD = "idf-linux";
const BUILD_ROOT = join(REPO_ROOT, "build", "idf-linux");
const BINARY_NAME = "provision-idf-linux.elf";
const LOCK_STALE_MS = 10 * 60_000;

export interface IdfLinuxBuild {
  /** The program to run: prints the twin's port line, then serves the protocol on its pty. */
  binary: string;
  idf: Idf;
  /** False when the stamp showed nothing had changed. */
  built: boolean;
  ms: number;
}

function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, encoding: "utf8" })
    .filter((f) => !f.split(sep).includes("build"))
    .map((f) => join(dir, f))
    .filter((f) => statSync(f).isFile())
    .sort();
}

/** Hash of everything the build depends on that is not ESP-IDF's own tree. */
function inputsHash(idf: Idf, inputs: string[], extra: string): string {
  const h = createHash("sha256");
  h.update(`${idf.idfPath}\0${idf.version.text}\0${extra}\0`);
  for (const f of inputs) h.update(`${f}\0`).update(readFileSync(f));
  return h.digest("hex");
}

/** The component and the core every build here contains. */
const COMPONENT_INPUTS = () => [
  ...filesUnder(join(FIRMWARE_TEMPLATES_DIR_DEFAULT, "esp-idf")),
  ...filesUnder(join(FIRMWARE_TEMPLATES_DIR_DEFAULT, "core", "include")),
  ...filesUnder(join(FIRMWARE_TEMPLATES_DIR_DEFAULT, "core", "src")),
];

/**
 * ESP-IDF applies sdkconfig.defaults only to symbols its sdkconfig does not
 * have yet, and ninja does not regenerate sdkconfig.h for a symbol that a
 * changed Kconfig file adds: a change to either needs a new sdkconfig.
 */
const needsNewSdkconfig = (file: string) => /^(sdkconfig\.defaults|Kconfig)/.test(basename(file));

/** The hash of the files a sdkconfig was made from, kept beside it: a build that failed after a change still knows. */
function sdkconfigInputsHash(projectDir: string): string {
  const h = createHash("sha256");
  for (const f of filesUnder(projectDir).filter(needsNewSdkconfig))
    h.update(`${f}\0`).update(readFileSync(f));
  return h.digest("hex");
}

/** One folder per ESP-IDF: a kit by its version, an installation also by its path. */
function buildRootFor(idf: Idf): string {
  const tag = idf.kitDir
    ? `v${idf.version.text}`
    : `v${idf.version.text}-${createHash("sha256").update(idf.idfPath).digest("hex").slice(0, 8)}`;
  return join(BUILD_ROOT, tag);
}

function failed(what: string, step: string, idf: Idf, output: string, where: string): ProvisionError {
  return new ProvisionError("CONFIG", `building ${what} failed at ${step} (ESP-IDF v${idf.version.text})`, {
    where,
    hint: "needs cmake, ninja-build, gcc and libbsd-dev (Debian), and ESP-IDF v5.2+ (IDF_PATH) or the ESP-IDF kit; see the output below",
    deviceLog: output.trim().split("\n").slice(-15),
  });
}

/** One build for the linux target: where it goes and what it depends on. */
interface LinuxBuildSpec {
  /** "the idf-linux device", for messages. */
  what: string;
  root: string;
  projectDir: string;
  binary: string;
  inputs: string[];
  /** Anything else the stamp covers (the sdkconfig fragments chosen). */
  extra: string;
  /** Writes the project (the render); returns true when the sdkconfig must be made anew. */
  prepare?: () => boolean;
  cmakeArgs?: string[];
}

const inFlight = new Map<string, Promise<IdfLinuxBuild>>();

function once(key: string, run: () => Promise<IdfLinuxBuild>): Promise<IdfLinuxBuild> {
  let pending = inFlight.get(key);
  if (!pending) {
    pending = run().finally(() => inFlight.delete(key));
    inFlight.set(key, pending);
  }
  return pending;
}

/** Builds the idf-linux device for the ESP-IDF `opts` selects (see resolveIdf), or finds it built. */
export async function ensureIdfLinuxBuilt(
  opts: ResolveIdfOptions & { onProgress?: (text: string) => void } = {},
): Promise<IdfLinuxBuild> {
  const idf = await resolveIdf(opts);
  const root = buildRootFor(idf);
  const projectDir = join(root, "project");
  const spec: LinuxBuildSpec = {
    what: "the idf-linux device",
    root,
    projectDir,
    binary: join(root, "build", BINARY_NAME),
    inputs: [
      ...COMPONENT_INPUTS(),
      join(REPO_ROOT, "boards", `${IDF_LINUX_BOARD}.json`),
      // the renderer decides which files and values go in
      join(REPO_ROOT, "src", "firmware", "render.ts"),
    ],
    extra: "",
    prepare: () => {
      const rendered = renderFirmware({
        boardId: IDF_LINUX_BOARD,
        outDir: projectDir,
        idfVersion: idf.version,
        writeOnlyChanged: true,
      });
      return rendered.changed.some(needsNewSdkconfig);
    },
  };
  return once(root, () => build(idf, spec, opts.onProgress));
}

export interface LinuxProjectOptions extends ResolveIdfOptions {
  /** An ESP-IDF project (its own CMakeLists.txt, main/ with idf_component.yml). */
  projectDir: string;
  /** sdkconfig fragments, relative to the project, in ESP-IDF's order (default: its sdkconfig.defaults). */
  sdkconfigDefaults?: string[];
  /** Names the build folder, so that two fragment sets of one project build side by side. */
  variant?: string;
  onProgress?: (text: string) => void;
}

/** The name in the project's `project(NAME)`: ESP-IDF's linux binary is NAME.elf. */
function projectName(projectDir: string): string {
  const file = join(projectDir, "CMakeLists.txt");
  const name = existsSync(file)
    ? /^\s*project\(\s*([^\s)]+)/m.exec(readFileSync(file, "utf8"))?.[1]
    : undefined;
  if (!name)
    throw new ProvisionError("CONFIG", "not an ESP-IDF project: no project(NAME) in its CMakeLists.txt", {
      where: file,
    });
  return name;
}

/**
 * Builds an ESP-IDF project for the linux target with the ESP-IDF `opts`
 * selects, or finds it built: a product that adds the provision component
 * (its manifest's local dependencies are followed when the component manager
 * is off). The build folder is build/idf-linux/<idf>/projects/<name>[-variant].
 */
export async function ensureLinuxProjectBuilt(opts: LinuxProjectOptions): Promise<IdfLinuxBuild> {
  const idf = await resolveIdf(opts);
  const projectDir = resolve(opts.projectDir);
  const name = projectName(projectDir);
  const root = join(buildRootFor(idf), "projects", opts.variant ? `${name}-${opts.variant}` : name);
  const fragments = (opts.sdkconfigDefaults ?? ["sdkconfig.defaults"]).map((f) => join(projectDir, f));
  const local = localComponents(projectDir, { idfVersion: idf.version, target: "linux" }, idf.env);
  const spec: LinuxBuildSpec = {
    what: `the project ${name}`,
    root,
    projectDir,
    binary: join(root, "build", `${name}.elf`),
    inputs: [...filesUnder(projectDir), ...COMPONENT_INPUTS(), ...local.flatMap((c) => filesUnder(c.dir))],
    extra: fragments.join(";"),
    // A changed input may be a fragment: the sdkconfig is made anew whenever the stamp is stale.
    prepare: () => true,
    cmakeArgs: [`-DSDKCONFIG_DEFAULTS=${fragments.join(";")}`],
  };
  return once(root, () => build(idf, spec, opts.onProgress));
}

async function build(
  idf: Idf,
  spec: LinuxBuildSpec,
  onProgress?: (text: string) => void,
): Promise<IdfLinuxBuild> {
  const started = Date.now();
  const { root, binary } = spec;
  const buildDir = join(root, "build");
  const stamp = join(root, "inputs.sha256");
  const fresh = (hash: string) =>
    existsSync(binary) && existsSync(stamp) && readFileSync(stamp, "utf8").trim() === hash;

  let hash = inputsHash(idf, spec.inputs, spec.extra);
  if (fresh(hash)) return { binary, idf, built: false, ms: Date.now() - started };
  mkdirSync(root, { recursive: true });
  return withDirLock(`${root}.lock`, { staleMs: LOCK_STALE_MS, what: "idf-linux build" }, async () => {
    hash = inputsHash(idf, spec.inputs, spec.extra);
    if (fresh(hash)) return { binary, idf, built: false, ms: Date.now() - started };
    onProgress?.(
      `building ${spec.what} with ESP-IDF v${idf.version.text} in ${root} (the first build takes about a minute)`,
    );
    const made = join(buildDir, "sdkconfig.inputs.sha256");
    const prepared = spec.prepare?.() ?? false;
    const sdkInputs = sdkconfigInputsHash(spec.projectDir);
    if (prepared || !existsSync(made) || readFileSync(made, "utf8").trim() !== sdkInputs)
      rmSync(join(buildDir, "sdkconfig"), { force: true });
    if (!existsSync(join(buildDir, "build.ninja")) || !existsSync(join(buildDir, "sdkconfig"))) {
      const c = await configureIdfProject({
        idf,
        projectDir: spec.projectDir,
        buildDir,
        target: "linux",
        extraArgs: spec.cmakeArgs,
      });
      if (!c.ok) throw failed(spec.what, "configure (cmake)", idf, c.output, spec.projectDir);
      writeFileSync(made, `${sdkInputs}\n`);
    }
    const b = await buildIdfProject({ idf, buildDir });
    if (!b.ok || !existsSync(binary)) throw failed(spec.what, "compile (ninja)", idf, b.output, buildDir);
    writeFileSync(stamp, `${hash}\n`);
    return { binary, idf, built: true, ms: Date.now() - started };
  });
}
