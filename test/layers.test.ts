/**
 * The layers import one way (docs/architecture.md): protocol <- transport <-
 * session <- provision <- station <- commands <- cli, the side modules
 * (registry, ledger, csr, observer, ...) below the pipeline, and the local AWS
 * IoT reached only from commands and tests, or loaded on demand by the
 * pipeline's target with import(). Product files only: tests may reach
 * anything.
 */
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import ts from "typescript";
import { describe, expect, it } from "vitest";

const SRC = resolve(import.meta.dirname, "..", "src");

/** Below the pipeline: none of them may import anything above it. */
const BELOW_PIPELINE = [
  "protocol",
  "transport",
  "session",
  "registry",
  "ledger",
  "observer",
  "csr",
  "boards",
  "firmware",
  "cloud",
  "config",
  "ports",
  "twin",
  "emulator",
  "flash",
];
const PIPELINE_AND_BELOW = [...BELOW_PIPELINE, "provision", "station"];
/** The chain, lowest first: a layer imports only from layers before it (and side modules). */
const CHAIN = ["protocol", "transport", "session", "provision", "station", "commands", "cli"];
/**
 * The CLI's implementations of the pipeline's progress and interruption
 * interfaces (lines on stderr; SIGINT/SIGTERM/SIGHUP as an AbortSignal): the
 * commands use them, so they must stay leaves that import no command.
 */
const CLI_LEAVES = ["cli/progress.ts", "cli/interrupt.ts"];

interface ImportEdge {
  from: string;
  to: string;
  typeOnly: boolean;
  dynamic: boolean;
}

function productFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith(".ts"))
    .map((e) => join(e.parentPath, e.name))
    .filter((f) => !/\.test(-helper)?\.ts$/.test(f));
}

/** Every relative import of a file: static, re-exports and import(), with whether it is erased. */
function importsOf(file: string): ImportEdge[] {
  const source = ts.createSourceFile(file, readFileSync(file, "utf8"), ts.ScriptTarget.Latest, true);
  const edges: ImportEdge[] = [];
  const add = (spec: string, typeOnly: boolean, dynamic: boolean) => {
    if (!spec.startsWith(".")) return;
    const to = relative(SRC, resolve(dirname(file), spec)).replace(/\.js$/, ".ts");
    edges.push({ from: relative(SRC, file), to, typeOnly, dynamic });
  };
  const visit = (node: ts.Node) => {
    if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier)) {
      const clause = node.importClause;
      const bindings = clause?.namedBindings;
      const allNamedTypes =
        bindings !== undefined &&
        ts.isNamedImports(bindings) &&
        bindings.elements.length > 0 &&
        bindings.elements.every((e) => e.isTypeOnly) &&
        clause?.name === undefined;
      add(node.moduleSpecifier.text, Boolean(clause?.isTypeOnly) || allNamedTypes, false);
    } else if (
      ts.isExportDeclaration(node) &&
      node.moduleSpecifier &&
      ts.isStringLiteral(node.moduleSpecifier)
    ) {
      add(node.moduleSpecifier.text, node.isTypeOnly, false);
    } else if (
      ts.isCallExpression(node) &&
      node.expression.kind === ts.SyntaxKind.ImportKeyword &&
      node.arguments[0] &&
      ts.isStringLiteral(node.arguments[0])
    ) {
      add(node.arguments[0].text, false, true);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return edges;
}

const topDir = (path: string) => path.split("/")[0] ?? "";
const allEdges = productFiles(SRC).flatMap(importsOf);
const show = (e: ImportEdge) =>
  `${e.from} -> ${e.to}${e.typeOnly ? " (type)" : ""}${e.dynamic ? " (import())" : ""}`;

describe("one-way layers", () => {
  it("finds the imports it checks (the parser sees the tree)", () => {
    expect(allEdges.length).toBeGreaterThan(200);
    expect(
      allEdges.some((e) => e.from === "provision/target.ts" && e.dynamic && topDir(e.to) === "local-iot"),
    ).toBe(true);
  });

  it("nothing under the pipeline and below imports src/cli or src/commands", () => {
    const upward = allEdges.filter(
      (e) => PIPELINE_AND_BELOW.includes(topDir(e.from)) && ["cli", "commands"].includes(topDir(e.to)),
    );
    expect(upward.map(show)).toEqual([]);
  });

  it("the pipeline and below load the local AWS IoT only with import() (type imports are erased)", () => {
    const stat = allEdges.filter(
      (e) =>
        PIPELINE_AND_BELOW.includes(topDir(e.from)) &&
        topDir(e.to) === "local-iot" &&
        !e.typeOnly &&
        !e.dynamic,
    );
    expect(stat.map(show)).toEqual([]);
  });

  it("each layer of the chain imports only layers before it", () => {
    const wrong = allEdges.filter((e) => {
      const from = CHAIN.indexOf(topDir(e.from));
      const to = CHAIN.indexOf(topDir(e.to));
      return from >= 0 && to > from && !(topDir(e.from) === "commands" && CLI_LEAVES.includes(e.to));
    });
    expect(wrong.map(show)).toEqual([]);
  });

  it("the CLI's progress and interruption leaves import no command", () => {
    const wrong = allEdges.filter(
      (e) => CLI_LEAVES.includes(e.from) && ["commands", "cli"].includes(topDir(e.to)),
    );
    expect(wrong.map(show)).toEqual([]);
  });

  it("side modules below the pipeline import nothing from provision, station, commands or cli", () => {
    const wrong = allEdges.filter(
      (e) =>
        BELOW_PIPELINE.includes(topDir(e.from)) &&
        ["provision", "station", "commands", "cli"].includes(topDir(e.to)),
    );
    expect(wrong.map(show)).toEqual([]);
  });

  it("the local AWS IoT imports nothing of the tool above it", () => {
    const wrong = allEdges.filter(
      (e) =>
        topDir(e.from) === "local-iot" && ["provision", "station", "commands", "cli"].includes(topDir(e.to)),
    );
    expect(wrong.map(show)).toEqual([]);
  });
});
