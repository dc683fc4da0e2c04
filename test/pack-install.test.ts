/**
 * The tool as a factory's IT department installs it: `npm pack`, then the
 * tarball installed into an empty prefix with `--omit=dev` (what
 * `npm install -g ./provision-*.tgz` does), and run from there, out of any
 * clone: `--version`, the demo (twin built inside the installed package,
 * local AWS IoT, first publish) and a firmware render. Also what the package
 * holds: what runs, nothing of the tests, the sources or the build tools.
 */
import { execFile } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { builtinModules } from "node:module";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import ts from "typescript";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startCli } from "./browser.test-helper.js";
import { runCli } from "./cli.test-helper.js";

const ROOT = resolve(import.meta.dirname, "..");
const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as {
  version: string;
  dependencies: Record<string, string>;
};
const work = mkdtempSync(join(tmpdir(), "provision-pack-"));
const prefix = join(work, "prefix");
const installed = join(prefix, "lib", "node_modules", "provision");
const provision = join(prefix, "bin", "provision");
let packed: string[] = [];

const run = promisify(execFile);

/** npm with the Node running this test first on PATH, so the installed bin runs on it too. */
const npmEnv = { ...process.env, PATH: `${resolve(process.execPath, "..")}:${process.env.PATH}` };

/** The installed CLI in a folder of its own, with a user's clean environment. */
function provisionCli(args: string[]) {
  return runCli(args, {
    cwd: mkdtempSync(join(work, "cwd-")),
    installed: provision,
    env: { PATH: npmEnv.PATH },
  });
}

beforeAll(async () => {
  // dist/ is fresh (test/global-setup.ts): no `prepare` here, which would rebuild it under the other tests.
  const { stdout } = await run("npm", ["pack", "--json", "--ignore-scripts", "--pack-destination", work], {
    cwd: ROOT,
    env: npmEnv,
    maxBuffer: 16 << 20,
  });
  const report = JSON.parse(stdout)[0] as { filename: string; files: { path: string }[] };
  packed = report.files.map((f) => f.path);
  mkdirSync(prefix);
  // Dependencies come from the npm cache `npm ci` filled, else the registry.
  await run(
    "npm",
    [
      "install",
      "--global",
      "--prefix",
      prefix,
      "--omit=dev",
      "--prefer-offline",
      "--no-audit",
      "--no-fund",
      join(work, report.filename),
    ],
    { cwd: work, env: npmEnv, maxBuffer: 16 << 20 },
  );
}, 300_000);

afterAll(() => rmSync(work, { recursive: true, force: true }));

describe("the packed package", () => {
  it("ships what runs and nothing else", () => {
    for (const f of [
      "bin/provision.js",
      "dist/cli/main.js",
      "dist/commands/demo.js",
      "boards/esp32-devkitc.json",
      "firmware-templates/core/src/device.c",
      "firmware-templates/host/Makefile",
      "firmware-templates/esp-idf/main/app_main.c",
      "dist/station-ui/index.js",
      "ui/index.html",
      "ui/station.js",
      "ui/view.css",
      "LICENSE",
      "README.md",
    ])
      expect(packed, f).toContain(f);
    const stray = packed.filter(
      (f) =>
        /^(src|test|scripts|build|node_modules)\//.test(f) ||
        /\/build\//.test(f) ||
        /\.(ts|map)$/.test(f) ||
        /^firmware-templates\/(core\/)?(test|fuzz)\//.test(f) ||
        /^tsconfig|^vitest|^biome/.test(f),
    );
    expect(stray).toEqual([]);
  });

  it("every docs/ path the CLI names is in the package", () => {
    const named = new Set<string>();
    for (const f of packed.filter((p) => p.startsWith("dist/") && p.endsWith(".js")))
      for (const m of readFileSync(join(ROOT, f), "utf8").matchAll(/docs\/[\w.-]+\.(?:md|json)/g))
        named.add(m[0]);
    expect(named.size).toBeGreaterThan(0);
    expect([...named].filter((d) => !packed.includes(d))).toEqual([]);
  });

  it("installs with runtime dependencies only: no TypeScript, tsx or test tools", () => {
    const modules = join(prefix, "lib", "node_modules", "provision", "node_modules");
    for (const dev of ["typescript", "tsx", "vitest", "@biomejs/biome", "fast-check", "node-forge"])
      expect(existsSync(join(modules, dev)), dev).toBe(false);
    expect(existsSync(join(modules, "commander"))).toBe(true);
  });

  it("provision --version prints the package's version", async () => {
    const r = await provisionCli(["--version"]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toBe(`${pkg.version}\n`);
  });

  it("provision demo --json provisions a twin built inside the installed package", async () => {
    const r = await provisionCli(["demo", "--json"]);
    expect(r.status, r.stderr).toBe(0);
    const result = JSON.parse(r.stdout);
    expect(result.ok).toBe(true);
    expect(result.mode).toBe("provisioned");
    expect(JSON.parse(result.firstMessage.payload)).toEqual({ counter: 0 });
    expect(existsSync(join(installed, "firmware-templates", "host", "build", "provision-twin"))).toBe(true);
  }, 180_000);

  it("provision station-view serves its page and the page's files from the installed package", async () => {
    const view = startCli(
      ["station-view", "http://127.0.0.1:9/", "--ui", "127.0.0.1:0"],
      mkdtempSync(join(work, "cwd-")),
      { PATH: npmEnv.PATH },
      provision,
    );
    try {
      const url = (await view.stderrMatch(/line view of 1 station\(s\) .*: (http:\/\/\S+)/))[1] as string;
      const page = await fetch(url);
      expect(page.status).toBe(200);
      expect(await page.text()).toContain('src="/assets/line.js"');
      for (const asset of ["line.js", "model.js", "render.js", "view.css"])
        expect((await fetch(new URL(`/assets/${asset}`, url))).status, asset).toBe(200);
    } finally {
      view.child.kill("SIGINT");
      expect(await view.exited).toBe(130);
    }
  }, 60_000);

  it("provision firmware render writes an ESP-IDF project from the installed templates", async () => {
    const out = join(work, "fw");
    const r = await provisionCli(["firmware", "render", "--board", "esp32-devkitc", "--out", out, "--json"]);
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).files).toContain("CMakeLists.txt");
    expect(readdirSync(join(out, "components"))).toContain("provision");
    expect(readFileSync(join(out, "components", "provision", "core", "src", "device.c"), "utf8")).toBe(
      readFileSync(join(ROOT, "firmware-templates", "core", "src", "device.c"), "utf8"),
    );
  }, 60_000);
});

/** Every package a compiled file loads: imports, import(), require("x") and requireCommonJs("x"). */
function packagesLoadedBy(file: string): string[] {
  const source = ts.createSourceFile(file, readFileSync(file, "utf8"), ts.ScriptTarget.Latest, true);
  const specs: string[] = [];
  const visit = (node: ts.Node) => {
    if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier) {
      if (ts.isStringLiteral(node.moduleSpecifier)) specs.push(node.moduleSpecifier.text);
    } else if (
      ts.isCallExpression(node) &&
      node.arguments.length === 1 &&
      ts.isStringLiteral(node.arguments[0] as ts.Node)
    ) {
      const callee = node.expression;
      const isImport = callee.kind === ts.SyntaxKind.ImportKeyword;
      const isRequire =
        (ts.isIdentifier(callee) && ["require", "requireCommonJs"].includes(callee.text)) ||
        (ts.isCallExpression(callee) &&
          ts.isIdentifier(callee.expression) &&
          callee.expression.text === "createRequire");
      if (isImport || isRequire) specs.push((node.arguments[0] as ts.StringLiteral).text);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return specs
    .filter((s) => !s.startsWith(".") && !s.startsWith("node:") && !builtinModules.includes(s))
    .map((s) => (s.startsWith("@") ? s.split("/").slice(0, 2).join("/") : (s.split("/")[0] as string)));
}

describe("dependencies", () => {
  const loaded = new Set(
    readdirSync(join(ROOT, "dist"), { recursive: true, encoding: "utf8" })
      .filter((f) => f.endsWith(".js"))
      .flatMap((f) => packagesLoadedBy(join(ROOT, "dist", f))),
  );

  it("what dist/ loads is in dependencies (an installed package has nothing else)", () => {
    expect([...loaded].filter((p) => !(p in pkg.dependencies)).sort()).toEqual([]);
  });

  it("every dependency is loaded by dist/ (no dependency that nothing imports)", () => {
    expect(Object.keys(pkg.dependencies).filter((p) => !loaded.has(p))).toEqual([]);
  });
});
