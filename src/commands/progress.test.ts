import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { createProgress, timingsObject } from "./progress.js";

function sink() {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      chunks.push(String(chunk));
      done();
    },
  });
  return { stream, text: () => chunks.join("") };
}

describe("progress", () => {
  it("prints a start and a result line per step, with timings kept for --json", async () => {
    const out = sink();
    const p = createProgress({ stream: out.stream });
    expect(
      await p.step(
        "key",
        "make the key",
        async () => 7,
        (n) => `got ${n}`,
      ),
    ).toBe(7);
    await expect(p.step("csr", "get the CSR", async () => Promise.reject(new Error("x")))).rejects.toThrow(
      "x",
    );
    expect(out.text()).toMatch(
      /^… make the key\n✔ make the key: got 7 \(\d+ ms\)\n… get the CSR\n✖ get the CSR \(\d+ ms\)\n$/,
    );
    expect(Object.keys(timingsObject(p.timings))).toEqual(["key", "csr"]);
    expect(p.timings.map((t) => t.ok)).toEqual([true, false]);
  });

  it("in place, the result replaces the start line; a message meanwhile gets its own line", async () => {
    const out = sink();
    const p = createProgress({ stream: out.stream, inPlace: true });
    await p.step("hello", "meet the device", async () => undefined);
    await p.step("register", "register", async () => {
      p.info("rolling back");
    });
    const ERASE_LINE = "\r\x1b[2K";
    const text = out.text().replace(/\d+ ms/g, "N ms");
    expect(text).toBe(
      `… meet the device${ERASE_LINE}✔ meet the device (N ms)\n… register\nrolling back\n✔ register (N ms)\n`,
    );
  });

  it("quiet writes nothing but still times", async () => {
    const out = sink();
    const p = createProgress({ stream: out.stream, quiet: true, inPlace: true });
    await p.step("a", "a", async () => undefined);
    expect(out.text()).toBe("");
    expect(p.timings).toHaveLength(1);
  });
});
