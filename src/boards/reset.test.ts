import { describe, expect, it } from "vitest";
import { isProvisionError } from "../errors.js";
import { getBoard } from "./index.js";
import { parseResetSequence, resetStepsFor, runResetSteps } from "./reset.js";

describe("parseResetSequence", () => {
  it("parses esptool-js's example", () => {
    expect(parseResetSequence("D0|R1|W100|D1|R0|W50|D0")).toEqual([
      { line: "dtr", asserted: false },
      { line: "rts", asserted: true },
      { waitMs: 100 },
      { line: "dtr", asserted: true },
      { line: "rts", asserted: false },
      { waitMs: 50 },
      { line: "dtr", asserted: false },
    ]);
  });

  it("rejects malformed text with a CONFIG error naming the field", () => {
    try {
      parseResetSequence("D0|X1");
      expect.unreachable();
    } catch (e) {
      expect(isProvisionError(e, "CONFIG")).toBe(true);
      expect((e as Error).message).toContain("D0|X1");
    }
  });
});

describe("resetStepsFor", () => {
  it("uses the board's sequence, or nothing for the twin", () => {
    expect(resetStepsFor(getBoard("esp32-devkitc"))).toEqual(parseResetSequence("D0|R1|W100|R0"));
    expect(resetStepsFor(getBoard("esp32-s3-devkitc-1"))).toEqual(parseResetSequence("D0|R1|W200|R0|W200"));
    expect(resetStepsFor(getBoard("twin"))).toEqual([]);
  });
});

describe("runResetSteps", () => {
  it("always sets both lines, waits, and ends released", async () => {
    const calls: unknown[] = [];
    await runResetSteps(
      parseResetSequence("D1|R1|W30"),
      async (s) => {
        calls.push(s);
      },
      async (ms) => {
        calls.push({ sleptMs: ms });
      },
    );
    expect(calls).toEqual([
      { dtr: true, rts: false },
      { dtr: true, rts: true },
      { sleptMs: 30 },
      { dtr: false, rts: false },
    ]);
  });

  it("does nothing for an empty sequence", async () => {
    let n = 0;
    await runResetSteps([], async () => {
      n++;
    });
    expect(n).toBe(0);
  });
});
