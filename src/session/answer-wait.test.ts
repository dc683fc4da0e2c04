import { describe, expect, it } from "vitest";
import { FRAME_STALL_MS, waitLonger } from "./answer-wait.js";

const at = {
  now: 10_000,
  timeoutMs: 1000,
  partialFrame: 0,
  partialLog: 0,
  garbage: false,
  lastByteAt: 9_900,
};

describe("waiting for an answer on a slow line", () => {
  it("a line half-way through arriving (frame or log text) is waited for until it pauses", () => {
    expect(waitLonger({ ...at, partialFrame: 40 })).toBe(FRAME_STALL_MS - 100);
    expect(waitLonger({ ...at, partialLog: 12 })).toBe(FRAME_STALL_MS - 100);
    expect(waitLonger({ ...at, partialFrame: 40, lastByteAt: 10_000 - FRAME_STALL_MS })).toBe(0);
  });

  it("nothing half-way (silence, complete log lines) or garbage on the line: the attempt has failed", () => {
    expect(waitLonger(at)).toBe(0);
    expect(waitLonger({ ...at, partialLog: 30, garbage: true })).toBe(0);
  });
});
