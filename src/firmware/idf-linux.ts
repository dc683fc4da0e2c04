/**
 * Builds the idf-linux device: the ESP-IDF port rendered for board
 * `idf-linux` and built for ESP-IDF's linux target (cmake + ninja), a real
 * ESP-IDF application that runs on this host on a pseudo-terminal.
 *
 * Cached per ESP-IDF: the project and its build folder live in
 * build/idf-linux/<idf>/, the render only rewrites files whose content
 * changed (so ninja rebuilds only what depends on them), and a stamp with the
 * hash of every input (templates, core, board file, ESP-IDF path and version)
 * skips even the ninja run when nothing changed.
 */
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { basename, join, relative } from "node:path";
import { ProvisionError } from "../errors.js";
import { PACKAGE_ROOT } from "../package-root.js";
import { withDirLock } from "./build-tools.js";
import { buildIdfProject, configureIdfProject, type Idf, type ResolveIdfOptions, resolveIdf } from "./idf.js";
import { FIRMWARE_TEMPLATES_DIR_DEFAULT, RENDERER_SOURCE, renderFirmware } from "./render.js";

export const IDF_LINUX_BOARD = "idf-linux";
const BUILD_ROOT = join(PACKAGE_ROOT, "build", "idf-linux");
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
    .map((f) => join(dir, f))
    .filter((f) => statSync(f).isFile())
    .sort();
}

/** Hash of everything the build depends on that is not ESP-IDF's own tree. */
function inputsHash(idf: Idf): string {
  const h = createHash("sha256");
  h.update(`${idf.idfPath}\0${idf.version.text}\0`);
  const inputs = [
    ...filesUnder(join(FIRMWARE_TEMPLATES_DIR_DEFAULT, "esp-idf")),
    ...filesUnder(join(FIRMWARE_TEMPLATES_DIR_DEFAULT, "core", "include")),
    ...filesUnder(join(FIRMWARE_TEMPLATES_DIR_DEFAULT, "core", "src")),
    join(PACKAGE_ROOT, "boards", `${IDF_LINUX_BOARD}.json`),
    // the renderer decides which files and values go in
    RENDERER_SOURCE,
  ];
  for (const f of inputs) h.update(`${relative(PACKAGE_ROOT, f)}\0`).update(readFileSync(f));
  return h.digest("hex");
}

/** One folder per ESP-IDF: a kit by its version, an installation also by its path. */
function buildRootFor(idf: Idf): string {
  const tag = idf.kitDir
    ? `v${idf.version.text}`
    : `v${idf.version.text}-${createHash("sha256").update(idf.idfPath).digest("hex").slice(0, 8)}`;
  return join(BUILD_ROOT, tag);
}

function failed(step: string, idf: Idf, output: string, where: string): ProvisionError {
  return new ProvisionError(
    "CONFIG",
    `building the idf-linux device failed at ${step} (ESP-IDF v${idf.version.text})`,
    {
      where,
      hint: "needs cmake, ninja-build, gcc and libbsd-dev (Debian), and ESP-IDF v5.2+ (IDF_PATH) or the ESP-IDF kit; see the output below",
      deviceLog: output.trim().split("\n").slice(-15),
    },
  );
}

const inFlight = new Map<string, Promise<IdfLinuxBuild>>();

/** Builds the idf-linux device for the ESP-IDF `opts` selects (see resolveIdf), or finds it built. */
export async function ensureIdfLinuxBuilt(
  opts: ResolveIdfOptions & { onProgress?: (text: string) => void } = {},
): Promise<IdfLinuxBuild> {
  const idf = await resolveIdf(opts);
  const root = buildRootFor(idf);
  const key = root;
  let pending = inFlight.get(key);
  if (!pending) {
    pending = build(idf, root, opts.onProgress).finally(() => inFlight.delete(key));
    inFlight.set(key, pending);
  }
  return pending;
}

async function build(idf: Idf, root: string, onProgress?: (text: string) => void): Promise<IdfLinuxBuild> {
  const started = Date.now();
  const projectDir = join(root, "project");
  const buildDir = join(root, "build");
  const binary = join(buildDir, BINARY_NAME);
  const stamp = join(root, "inputs.sha256");
  const fresh = (hash: string) =>
    existsSync(binary) && existsSync(stamp) && readFileSync(stamp, "utf8").trim() === hash;

  let hash = inputsHash(idf);
  if (fresh(hash)) return { binary, idf, built: false, ms: Date.now() - started };
  mkdirSync(root, { recursive: true });
  return withDirLock(`${root}.lock`, { staleMs: LOCK_STALE_MS, what: "idf-linux build" }, async () => {
    hash = inputsHash(idf);
    if (fresh(hash)) return { binary, idf, built: false, ms: Date.now() - started };
    onProgress?.(
      `building the idf-linux device with ESP-IDF v${idf.version.text} in ${root} (the first build takes about a minute)`,
    );
    const rendered = renderFirmware({
      boardId: IDF_LINUX_BOARD,
      outDir: projectDir,
      idfVersion: idf.version,
      writeOnlyChanged: true,
    });
    // ESP-IDF applies sdkconfig.defaults only to symbols its sdkconfig does not have yet.
    if (rendered.changed.some((f) => basename(f).startsWith("sdkconfig.defaults")))
      rmSync(join(buildDir, "sdkconfig"), { force: true });
    if (!existsSync(join(buildDir, "build.ninja")) || !existsSync(join(buildDir, "sdkconfig"))) {
      const c = await configureIdfProject({ idf, projectDir, buildDir, target: "linux" });
      if (!c.ok) throw failed("configure (cmake)", idf, c.output, projectDir);
    }
    const b = await buildIdfProject({ idf, buildDir });
    if (!b.ok || !existsSync(binary)) throw failed("compile (ninja)", idf, b.output, buildDir);
    writeFileSync(stamp, `${hash}\n`);
    return { binary, idf, built: true, ms: Date.now() - started };
  });
}
