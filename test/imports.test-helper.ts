/**
 * The import graph of src/ as the layer and circle tests see it: every
 * relative import of a product file (tests excluded), parsed with the
 * TypeScript compiler, static, re-exported and import(), with whether it is
 * erased at run time.
 */
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import ts from "typescript";

export const SRC = resolve(import.meta.dirname, "..", "src");

export interface ImportEdge {
  /** Relative to src/, e.g. "cli/main.ts". */
  from: string;
  to: string;
  typeOnly: boolean;
  dynamic: boolean;
}

export function productFiles(dir: string = SRC): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith(".ts"))
    .map((e) => join(e.parentPath, e.name))
    .filter((f) => !/\.test(-helper)?\.ts$/.test(f) && !f.includes(`${SRC}/local-iot/testdata/`));
}

/** Every relative import of a file: static, re-exports and import(), with whether it is erased. */
export function importsOf(file: string): ImportEdge[] {
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

/** The top folder under src/ ("cli", "ledger"), or the file itself for one at the top ("errors.ts"). */
export const topDir = (path: string) => path.split("/")[0] ?? "";

export const showEdge = (e: ImportEdge) =>
  `${e.from} -> ${e.to}${e.typeOnly ? " (type)" : ""}${e.dynamic ? " (import())" : ""}`;
