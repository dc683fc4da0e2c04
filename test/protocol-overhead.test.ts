import { describe, expect, it } from "vitest";
import { credentialSet, measureOverhead } from "../scripts/bench-overhead.js";

describe("wire overhead of WRITE_CREDENTIALS", () => {
  it("stays within 1.40 x the payload for a 1.3 KB certificate at max_frame 2048", async () => {
    const r = await measureOverhead(credentialSet(false), 2048);
    expect(r.frames).toBe(1);
    // base64 alone costs 4/3; frame header, CRC, markers and the response must fit in the rest.
    expect(r.ratio).toBeGreaterThan(4 / 3);
    expect(r.ratio).toBeLessThanOrEqual(1.4);
  });

  it("costs more with small frames (chunk headers and acks) but stays bounded", async () => {
    const big = await measureOverhead(credentialSet(true), 2048);
    const small = await measureOverhead(credentialSet(true), 256);
    expect(small.frames).toBeGreaterThan(big.frames);
    expect(small.ratio).toBeGreaterThan(big.ratio);
    expect(small.ratio).toBeLessThan(1.8);
  });
});
