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
import { existsSync, rmSync } from "node:fs";
import { basename, join } from "node:path";
import { ProvisionError } from "../errors.js";
import { buildRootFor, cachedBuild, firmwareInputsHash } from "./build-cache.js";
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

/** Builds the idf-linux device for the ESP-IDF `opts` selects (see resolveIdf), or finds it built. */
export async function ensureIdfLinuxBuilt(
  opts: ResolveIdfOptions & { onProgress?: (text: string) => void } = {},
): Promise<IdfLinuxBuild> {
  const started = Date.now();
  const idf = await resolveIdf(opts);
  const root = buildRootFor(["idf-linux"], idf);
  const projectDir = join(root, "project");
  const buildDir = join(root, "build");
  const binary = join(buildDir, BINARY_NAME);
  return cachedBuild({
    root,
    what: "idf-linux build",
    hash: () => firmwareInputsHash(idf, IDF_LINUX_BOARD),
    outputsExist: () => existsSync(binary),
    result: (built) => ({ binary, idf, built, ms: Date.now() - started }),
    build: async () => {
      opts.onProgress?.(
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
    },
  });
}
