/**
 * The layers import one way (docs/architecture.md): protocol <- transport <-
 * session <- provision <- station <- station-ui <- commands <- cli, the side modules
 * (registry, ledger, csr, observer, ...) below the pipeline, and the local AWS
 * IoT reached only from commands and tests, or loaded on demand by the
 * pipeline's target with import(). Product files only: tests may reach
 * anything.
 */
import { describe, expect, it } from "vitest";
import { type ImportEdge, importsOf, productFiles, showEdge as show, topDir } from "./imports.test-helper.js";

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
const CHAIN = ["protocol", "transport", "session", "provision", "station", "station-ui", "commands", "cli"];

const allEdges: ImportEdge[] = productFiles().flatMap(importsOf);

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
      return from >= 0 && to > from;
    });
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

  it("the station's page (src/station-ui) is loaded by the commands with import() only, when --ui asks", () => {
    const uses = allEdges.filter((e) => topDir(e.to) === "station-ui" && topDir(e.from) !== "station-ui");
    expect(uses.length).toBeGreaterThan(0);
    expect(uses.filter((e) => !e.dynamic && !e.typeOnly).map(show)).toEqual([]);
  });

  it("the local AWS IoT imports nothing of the tool above it", () => {
    const wrong = allEdges.filter(
      (e) =>
        topDir(e.from) === "local-iot" && ["provision", "station", "commands", "cli"].includes(topDir(e.to)),
    );
    expect(wrong.map(show)).toEqual([]);
  });
});
