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
import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { ProvisionError } from "../errors.js";
import {
  buildRootFor,
  cachedBuild,
  componentInputs,
  filesUnder,
  inputsHash,
  needsNewSdkconfig,
  renderedInputs,
  sdkconfigMade,
  staleSdkconfig,
} from "./build-cache.js";
import { localComponents } from "./component-manifest.js";
import { buildIdfProject, configureIdfProject, type Idf, type ResolveIdfOptions, resolveIdf } from "./idf.js";
import { renderFirmware } from "./render.js";

export const IDF_LINUX_BOARD = "idf-linux";
const BINARY_NAME = "provision-idf-linux.elf";

export interface IdfLinuxBuild {
  /** The program to run: prints the twin's port line, then serves the protocol on its pty. */
  binary: string;
  idf: Idf;
  /** False when the stamp showed nothing had changed. */
  built: boolean;
  ms: number;
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

/** Builds the idf-linux device for the ESP-IDF `opts` selects (see resolveIdf), or finds it built. */
export async function ensureIdfLinuxBuilt(
  opts: ResolveIdfOptions & { onProgress?: (text: string) => void } = {},
): Promise<IdfLinuxBuild> {
  const idf = await resolveIdf(opts);
  const root = buildRootFor(["idf-linux"], idf);
  const projectDir = join(root, "project");
  return build(
    idf,
    {
      what: "the idf-linux device",
      root,
      projectDir,
      binary: join(root, "build", BINARY_NAME),
      inputs: renderedInputs(IDF_LINUX_BOARD),
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
    },
    opts.onProgress,
  );
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
  const root = join(
    buildRootFor(["idf-linux"], idf),
    "projects",
    opts.variant ? `${name}-${opts.variant}` : name,
  );
  const fragments = (opts.sdkconfigDefaults ?? ["sdkconfig.defaults"]).map((f) => join(projectDir, f));
  const local = localComponents(projectDir, { idfVersion: idf.version, target: "linux" }, idf.env);
  const spec: LinuxBuildSpec = {
    what: `the project ${name}`,
    root,
    projectDir,
    binary: join(root, "build", `${name}.elf`),
    inputs: [...filesUnder(projectDir), ...componentInputs(), ...local.flatMap((c) => filesUnder(c.dir))],
    extra: fragments.join(";"),
    // A changed input may be a fragment: the sdkconfig is made anew whenever the stamp is stale.
    prepare: () => true,
    cmakeArgs: [`-DSDKCONFIG_DEFAULTS=${fragments.join(";")}`],
  };
  return build(idf, spec, opts.onProgress);
}

function build(idf: Idf, spec: LinuxBuildSpec, onProgress?: (text: string) => void): Promise<IdfLinuxBuild> {
  const started = Date.now();
  const { root, binary } = spec;
  const buildDir = join(root, "build");
  return cachedBuild({
    root,
    what: "idf-linux build",
    hash: () => inputsHash(idf, spec.inputs, spec.extra),
    outputsExist: () => existsSync(binary),
    result: (built) => ({ binary, idf, built, ms: Date.now() - started }),
    build: async () => {
      onProgress?.(
        `building ${spec.what} with ESP-IDF v${idf.version.text} in ${root} (the first build takes about a minute)`,
      );
      const sdkInputs = staleSdkconfig(spec.projectDir, buildDir, [], spec.prepare?.() ?? false);
      if (!existsSync(join(buildDir, "build.ninja")) || !existsSync(join(buildDir, "sdkconfig"))) {
        const c = await configureIdfProject({
          idf,
          projectDir: spec.projectDir,
          buildDir,
          target: "linux",
          extraArgs: spec.cmakeArgs,
        });
        if (!c.ok) throw failed(spec.what, "configure (cmake)", idf, c.output, spec.projectDir);
        sdkconfigMade(buildDir, sdkInputs);
      }
      const b = await buildIdfProject({ idf, buildDir });
      if (!b.ok || !existsSync(binary)) throw failed(spec.what, "compile (ninja)", idf, b.output, buildDir);
    },
  });
}
