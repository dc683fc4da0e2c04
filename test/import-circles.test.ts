/**
 * No import circles (docs/architecture.md): in src/, neither between files
 * (type imports count: a circle of types is still two modules that cannot be
 * understood apart) nor between the top folders (a layer and the one that
 * uses it); in the C core (firmware-templates/core/src), no two files whose
 * functions call each other, directly or round a longer loop.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { importsOf, productFiles, topDir } from "./imports.test-helper.js";

/**
 * Circles known and being broken elsewhere. Each entry is one circle exactly
 * as found (sorted); the last test fails once it is gone, so the entry is
 * removed with the change that breaks it.
 */

type Graph = Map<string, Set<string>>;

/** Tarjan's strongly connected components with more than one node: the circles, each sorted. */
function circles(graph: Graph): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (v: string) => {
    index.set(v, next);
    low.set(v, next);
    next++;
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v) as number, low.get(w) as number));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v) as number, index.get(w) as number));
      }
    }
    if (low.get(v) !== index.get(v)) return;
    const component: string[] = [];
    let w: string;
    do {
      w = stack.pop() as string;
      onStack.delete(w);
      component.push(w);
    } while (w !== v);
    if (component.length > 1) found.push(component.sort());
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return found.sort((a, b) => a.join().localeCompare(b.join()));
}

function graphOf(edges: { from: string; to: string }[]): Graph {
  const graph: Graph = new Map();
  for (const { from, to } of edges) {
    if (from === to) continue;
    if (!graph.has(from)) graph.set(from, new Set());
    graph.get(from)?.add(to);
  }
  return graph;
}

const tsEdges = productFiles().flatMap(importsOf);
const fileCircles = circles(graphOf(tsEdges));
const folderCircles = circles(graphOf(tsEdges.map((e) => ({ from: topDir(e.from), to: topDir(e.to) }))));

/**
 * The C core's call graph between its files: a file calls another when it
 * calls a function the other defines (a non-static definition at the start
 * of a line, as the core's style writes them). Includes are not the graph:
 * every file includes prov/device.h for the device's type.
 */
const CORE_SRC = resolve(import.meta.dirname, "..", "firmware-templates", "core", "src");

function withoutCommentsAndStrings(c: string): string {
  return c.replace(/\/\*[\s\S]*?\*\/|\/\/[^\n]*|"(?:\\.|[^"\\\n])*"|'(?:\\.|[^'\\\n])*'/g, " ");
}

function coreCallEdges(): { from: string; to: string; fn: string }[] {
  const files = readdirSync(CORE_SRC).filter((f) => f.endsWith(".c"));
  const text = new Map(
    files.map((f) => [f, withoutCommentsAndStrings(readFileSync(join(CORE_SRC, f), "utf8"))]),
  );
  const definedIn = new Map<string, string>();
  // `type name(args...)` then `{`, at the start of a line, not static; the arguments may span lines.
  const definition = /^(?!static\b)[A-Za-z_][\w \t*]*?\b([A-Za-z_]\w*)\s*\([^;{)]*\)\s*\{/gm;
  for (const [file, c] of text) for (const m of c.matchAll(definition)) definedIn.set(m[1] as string, file);
  const edges: { from: string; to: string; fn: string }[] = [];
  for (const [file, c] of text) {
    for (const m of c.matchAll(/\b([A-Za-z_]\w*)\s*\(/g)) {
      const to = definedIn.get(m[1] as string);
      if (to && to !== file) edges.push({ from: file, to, fn: m[1] as string });
    }
  }
  return edges;
}

const cEdges = coreCallEdges();

describe("import circles", () => {
  it("finds circles where there are some (the detector on a small graph)", () => {
    const g = graphOf([
      { from: "a", to: "b" },
      { from: "b", to: "c" },
      { from: "c", to: "a" },
      { from: "c", to: "d" },
      { from: "d", to: "e" },
      { from: "e", to: "d" },
    ]);
    expect(circles(g)).toEqual([
      ["a", "b", "c"],
      ["d", "e"],
    ]);
  });

  it("sees the trees it checks", () => {
    expect(tsEdges.length).toBeGreaterThan(200);
    expect(cEdges.length).toBeGreaterThan(30);
    // the link half calls the command half, which the core's layout says is one way
    expect(cEdges).toContainEqual({ from: "device.c", to: "dispatch.c", fn: "prov_dispatch" });
  });

  it("no two files in src/ import each other, round any loop (type imports included)", () => {
    expect(fileCircles).toEqual([]);
  });

  it("no two top folders of src/ import each other (cli and commands, a layer and its user)", () => {
    expect(folderCircles).toEqual([]);
  });

  it("no two C files of the core call into each other", () => {
    const loops = circles(graphOf(cEdges)).map((c) =>
      cEdges
        .filter((e) => c.includes(e.from) && c.includes(e.to))
        .map((e) => `${e.from} -> ${e.to} (${e.fn})`)
        .filter((line, i, all) => all.indexOf(line) === i),
    );
    expect(loops).toEqual([]);
  });
});
