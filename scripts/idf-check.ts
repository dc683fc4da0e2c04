/**
 * Compiles the ESP-IDF port against real ESP-IDF, for every board and every
 * key store it lists, on every available ESP-IDF (the kits in
 * ../shared/esp-idf-kit, or IDF_PATH):
 *
 *   render -> configure with ESP-IDF's cmake (its sdkconfig, its flags) ->
 *   check that every sdkconfig.defaults line took effect -> compile the
 *   project's own sources (main/, components/) from compile_commands.json at
 *   -Og and -O2: zero errors and zero warnings.
 *
 * esp32c3 compiles with a RISC-V GCC (faithful); esp32/esp32s3 with Debian's
 * Xtensa lx106 compiler (the ESP8266 core: a C-level check of types,
 * prototypes and warnings, not the real code generator); linux with the
 * host GCC. Nothing is linked for a chip here.
 *
 *   npx tsx scripts/idf-check.ts [--kit 5.5.5]... [--board ID]... [--jobs N] [--json] [--report FILE]
 *
 * Prints one line per combination and a summary; `--json` prints one JSON
 * object per combination instead; `--report FILE` writes those JSON lines to
 * FILE as well (test/run-all.sh counts them). Exit 1 when anything fails.
 */
import { spawn } from "node:child_process";
import {
  appendFileSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { basename, join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { loadBoards } from "../src/boards/index.js";
import { ProvisionError } from "../src/errors.js";
import { localComponents } from "../src/firmware/component-manifest.js";
import { availableKits, configureIdfProject, type Idf, resolveIdf } from "../src/firmware/idf.js";
import { renderFirmware, sdkconfigDefaultsFiles } from "../src/firmware/render.js";
import { PACKAGE_ROOT } from "../src/package-root.js";
import { argvFor, type CompileCommand, type OptLevel, ownCommands } from "./idf/compile-commands.js";
import { checkSdkconfig, describeProblem, parseSdkconfig } from "./idf/sdkconfig-check.js";

const OPT_LEVELS: OptLevel[] = ["-Og", "-O2"];
/** A product that adds the component by its manifest (test/idf-product.test.ts runs it on linux). */
const PRODUCT_FIXTURE = resolve(PACKAGE_ROOT, "test", "fixtures", "idf-product");
const WORK_DIR = join(PACKAGE_ROOT, "build", "idf-check");

/** How faithful the compiler for each target is (see the kit's README). */
const COMPILER_NOTE: Record<string, string> = {
  esp32c3: "RISC-V GCC: faithful compile",
  esp32: "Xtensa lx106 stand-in: C-level check only",
  esp32s3: "Xtensa lx106 stand-in: C-level check only",
  linux: "host GCC: the build that runs as the idf-linux device",
};

export interface ComboResult {
  idf: string;
  board: string;
  keyStore: string;
  target: string;
  compiler: string;
  /** "ok" | "failed" | "refused" (the render refused, as it should: see `detail`) */
  status: "ok" | "failed" | "refused";
  files: number;
  compile: Record<OptLevel, { ok: boolean; diagnostics: string }>;
  sdkconfig: { lines: number; problems: string[] };
  detail: string;
}

/**
 * The v6 kit's picolibc headers (esp-1.8.6, built generically) have the
 * stub <sys/dirent.h> that #errors; Espressif's toolchain ships one with
 * ESP-IDF's DIR, which esp_vfs.h needs (reached from usb_serial_jtag_vfs.h).
 * The kit fills the same gap in its newlib headers with ESP-IDF v5.0's file;
 * a kit build with picolibc gets that file too, ahead of the system headers.
 * Returns the -I folder, or undefined when nothing is missing.
 */
function picolibcDirentOverlay(idf: Idf, sdkconfig: string): string | undefined {
  const stub = idf.kitDir && join(idf.kitDir, "picolibc-include", "sys", "dirent.h");
  const esp = idf.kitDir && join(idf.kitDir, "newlib-include", "sys", "dirent.h");
  if (!stub || !esp || !/^CONFIG_LIBC_PICOLIBC=y$/m.test(sdkconfig) || !existsSync(stub)) return undefined;
  if (!readFileSync(stub, "utf8").includes('#error "<dirent.h> not supported"')) return undefined;
  const overlay = join(WORK_DIR, `picolibc-dirent-v${idf.version.text}`);
  mkdirSync(join(overlay, "sys"), { recursive: true });
  copyFileSync(esp, join(overlay, "sys", "dirent.h"));
  return overlay;
}

function runCompiler(
  argv: string[],
  cwd: string,
  env: NodeJS.ProcessEnv,
): Promise<{ code: number | null; stderr: string }> {
  return new Promise((done) => {
    const [cmd, ...args] = argv;
    if (!cmd) return done({ code: null, stderr: "empty compile command" });
    let stderr = "";
    const child = spawn(cmd, args, { cwd, env, stdio: ["ignore", "pipe", "pipe"] });
    child.stdout.on("data", (b: Buffer) => {
      stderr += b.toString();
    });
    child.stderr.on("data", (b: Buffer) => {
      stderr += b.toString();
    });
    child.on("error", (e) => done({ code: null, stderr: String(e) }));
    child.on("close", (code) => done({ code, stderr }));
  });
}

async function pool<T, R>(items: T[], jobs: number, fn: (t: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.max(1, Math.min(jobs, items.length)) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i] as T);
      }
    }),
  );
  return out;
}

function newResult(idf: Idf, board: string, keyStore: string, target: string): ComboResult {
  return {
    idf: idf.version.text,
    board,
    keyStore,
    target,
    compiler: COMPILER_NOTE[target] ?? "",
    status: "failed",
    files: 0,
    compile: { "-Og": { ok: false, diagnostics: "" }, "-O2": { ok: false, diagnostics: "" } },
    sdkconfig: { lines: 0, problems: [] },
    detail: "",
  };
}

async function checkCombo(
  idf: Idf,
  board: string,
  keyStore: string,
  target: string,
  jobs: number,
): Promise<ComboResult> {
  const result = newResult(idf, board, keyStore, target);
  const dir = join(WORK_DIR, `v${idf.version.text}`, `${board}-${keyStore}`);
  const projectDir = join(dir, "project");
  rmSync(dir, { recursive: true, force: true });
  try {
    renderFirmware({
      boardId: board,
      outDir: projectDir,
      keyStore: keyStore as never,
      idfVersion: idf.version,
    });
  } catch (e) {
    if (e instanceof ProvisionError && e.code === "USAGE" && /ESP-IDF v\d/.test(e.message)) {
      result.status = "refused";
      result.detail = e.message;
      return result;
    }
    throw e;
  }
  return checkProject(idf, result, { dir, projectDir, fragments: sdkconfigDefaultsFiles(idf.version) }, jobs);
}

/**
 * A product outside the render that adds the component by its manifest (the
 * test fixture), on a chip target: the component's Kconfig defaults, and its
 * sources compiled from where the manifest points.
 */
async function checkProduct(
  idf: Idf,
  projectDir: string,
  target: string,
  jobs: number,
): Promise<ComboResult> {
  const name = `product:${basename(projectDir)}`;
  const result = newResult(idf, name, "nvs", target);
  const dir = join(WORK_DIR, `v${idf.version.text}`, `${basename(projectDir)}-${target}`);
  rmSync(dir, { recursive: true, force: true });
  const components = localComponents(projectDir, { idfVersion: idf.version, target }, idf.env).map(
    (c) => c.dir,
  );
  return checkProject(idf, result, { dir, projectDir, fragments: ["sdkconfig.defaults"], components }, jobs);
}

/** Configure, check the sdkconfig fragments, compile the project's own sources at each level. */
async function checkProject(
  idf: Idf,
  result: ComboResult,
  where: { dir: string; projectDir: string; fragments: string[]; components?: string[] },
  jobs: number,
): Promise<ComboResult> {
  const { dir, projectDir } = where;
  const buildDir = join(dir, "build");
  const target = result.target;
  const configured = await configureIdfProject({ idf, projectDir, buildDir, target });
  if (!configured.ok) {
    result.detail = `configure failed:\n${configured.output.trim().split("\n").slice(-25).join("\n")}`;
    return result;
  }
  const defaults = where.fragments.flatMap((f) =>
    parseSdkconfig(readFileSync(join(projectDir, f), "utf8"), f),
  );
  const generated = readFileSync(join(buildDir, "sdkconfig"), "utf8");
  result.sdkconfig.lines = defaults.length;
  result.sdkconfig.problems = checkSdkconfig(defaults, generated).map(describeProblem);
  const overlay = target === "linux" ? undefined : picolibcDirentOverlay(idf, generated);
  if (overlay) result.compiler += "; the kit's picolibc completed with ESP-IDF's sys/dirent.h";
  const commands = ownCommands(
    JSON.parse(readFileSync(join(buildDir, "compile_commands.json"), "utf8")) as CompileCommand[],
    projectDir,
    where.components,
  );
  result.files = commands.length;
  const objDir = join(dir, "obj");
  mkdirSync(objDir, { recursive: true });
  for (const level of OPT_LEVELS) {
    const outputs = await pool(commands, jobs, async (c) => {
      const obj = join(objDir, `${c.file.replace(/[^A-Za-z0-9]/g, "_")}${level}.o`);
      const argv = argvFor(c, level, obj);
      if (overlay) argv.splice(1, 0, `-I${overlay}`);
      const r = await runCompiler(argv, c.directory, idf.env);
      return r.code === 0 && r.stderr.trim() === ""
        ? ""
        : `${c.file}:\n${r.stderr.trim() || `exit ${r.code}`}`;
    });
    const diagnostics = outputs.filter(Boolean).join("\n");
    result.compile[level] = { ok: diagnostics === "" && commands.length > 0, diagnostics };
  }
  const allCompiled = OPT_LEVELS.every((l) => result.compile[l].ok);
  result.status = allCompiled && result.sdkconfig.problems.length === 0 ? "ok" : "failed";
  if (commands.length === 0) result.detail = "no project sources in compile_commands.json";
  return result;
}

function describe(r: ComboResult): string {
  const head = `ESP-IDF v${r.idf}  ${r.target.padEnd(8)} ${r.board} / ${r.keyStore}`;
  if (r.status === "refused") return `${head}: refused by the render, as it should be (${r.detail})`;
  if (r.detail && r.files === 0) return `${head}: FAILED\n  ${r.detail.replace(/\n/g, "\n  ")}`;
  const comp = OPT_LEVELS.map((l) => `${l} ${r.compile[l].ok ? "clean" : "FAILED"}`).join(", ");
  const sdk =
    r.sdkconfig.problems.length === 0
      ? `sdkconfig ${r.sdkconfig.lines}/${r.sdkconfig.lines} in effect`
      : `sdkconfig ${r.sdkconfig.problems.length} of ${r.sdkconfig.lines} NOT in effect`;
  const lines = [
    `${head}: ${r.status === "ok" ? "ok" : "FAILED"}: ${r.files} files, ${comp}; ${sdk} [${r.compiler}]`,
  ];
  for (const l of OPT_LEVELS)
    if (!r.compile[l].ok && r.compile[l].diagnostics)
      lines.push(`  ${l}: ${r.compile[l].diagnostics.replace(/\n/g, "\n  ")}`);
  for (const p of r.sdkconfig.problems) lines.push(`  ${p}`);
  return lines.join("\n");
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      kit: { type: "string", multiple: true },
      board: { type: "string", multiple: true },
      jobs: { type: "string", default: "2" },
      json: { type: "boolean", default: false },
      report: { type: "string" },
    },
  });
  if (values.report) writeFileSync(values.report, "");
  const jobs = Number(values.jobs);
  const idfs: Idf[] = [];
  if (process.env.IDF_PATH && !values.kit) idfs.push(await resolveIdf());
  else {
    const kits = values.kit ?? availableKits();
    if (kits.length === 0)
      throw new ProvisionError("CONFIG", "no ESP-IDF kit found and IDF_PATH is not set", {
        hint: "set PROVISION_IDF_KIT_DIR to the folder with esp-idf-kit-v*.tar.xz (default ../shared/esp-idf-kit)",
      });
    for (const kitVersion of kits)
      idfs.push(await resolveIdf({ kitVersion, onProgress: (t) => process.stderr.write(`${t}\n`) }));
  }
  const boards = loadBoards().filter(
    (b) => b.chip !== "host" && (!values.board || values.board.includes(b.id)),
  );
  const combos = idfs.flatMap((idf) =>
    boards.flatMap((b) =>
      b.keyStore.supported.map((keyStore) => ({ idf, board: b.id, keyStore, target: b.chip })),
    ),
  );
  // The product fixture on the faithful chip compiler, unless --board narrowed the run to boards.
  const products = values.board
    ? []
    : idfs.map((idf) => ({ idf, product: PRODUCT_FIXTURE, target: "esp32c3" }));
  // Configuring is mostly one python process: one combination per job keeps the cores busy.
  const results = await pool([...combos, ...products], jobs, async (c) => {
    const r =
      "product" in c
        ? await checkProduct(c.idf, c.product, c.target, 1)
        : await checkCombo(c.idf, c.board, c.keyStore, c.target, 1);
    process.stdout.write(values.json ? `${JSON.stringify(r)}\n` : `${describe(r)}\n`);
    if (values.report) appendFileSync(values.report, `${JSON.stringify(r)}\n`);
    return r;
  });
  const failed = results.filter((r) => r.status === "failed");
  if (!values.json)
    process.stdout.write(
      `\n${results.length - failed.length} of ${results.length} board/key-store/ESP-IDF combinations clean` +
        ` (${results.filter((r) => r.status === "refused").length} refused by the render as unsupported)\n`,
    );
  return failed.length === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`${e instanceof ProvisionError ? e.describe() : String((e as Error).stack ?? e)}\n`);
    process.exit(2);
  },
);
