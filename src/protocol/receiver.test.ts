import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { FLAG_RESPONSE, FRAME_BODY_MAX } from "./constants.js";
import { decodeFrameLine, encodeFrame, type Frame } from "./frame.js";
import { FrameReceiver, type ReceiverEvent } from "./receiver.js";

const B64 = Buffer.from("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/");
const STEERING = [0x1e, 0x0a, 0x0d, 0x3d];
/**
 * Bytes biased towards the ones that steer the receiver: ~9% markers/CR/'=', ~40% base64
 * characters, the rest anything (a plain uint8Array is mapped, which is much faster than
 * a oneof per byte).
 */
const noisyBytes = (maxLength: number) =>
  fc
    .uint8Array({ maxLength, size: "max" })
    .map((u) => u.map((b) => (b < 24 ? (STEERING[b & 3] as number) : b < 128 ? (B64[b & 63] as number) : b)));
const frameArb: fc.Arbitrary<Frame> = fc.record({
  version: fc.constant(1),
  type: fc.integer({ min: 0, max: 255 }),
  seq: fc.integer({ min: 0, max: 0xffff }),
  flags: fc.integer({ min: 0, max: 255 }),
  payload: fc.uint8Array({ maxLength: FRAME_BODY_MAX - 9, size: "max" }).map((u) => Buffer.from(u)),
});

const frames = (events: ReceiverEvent[]) => events.flatMap((e) => (e.kind === "frame" ? [e.frame] : []));

function pushInPieces(r: FrameReceiver, bytes: Uint8Array, cuts: number[]): ReceiverEvent[] {
  const out: ReceiverEvent[] = [];
  let at = 0;
  for (const c of [...cuts.map((x) => x % (bytes.length + 1))].sort((a, b) => a - b)) {
    out.push(...r.push(bytes.subarray(at, c)));
    at = c;
  }
  out.push(...r.push(bytes.subarray(at)));
  return out;
}

describe("FrameReceiver properties", () => {
  it("never throws on arbitrary bytes, and decodeFrameLine neither (1500 cases)", () => {
    fc.assert(
      fc.property(noisyBytes(3000), fc.array(fc.nat(), { maxLength: 8 }), (bytes, cuts) => {
        const events = pushInPieces(new FrameReceiver(), bytes, cuts);
        for (const e of events) if (e.kind === "log") expect(e.text.length).toBeGreaterThan(0);
        decodeFrameLine(bytes);
      }),
      { numRuns: 1500 },
    );
  });

  it("round-trips random frames, whole and in random pieces (1500 cases)", () => {
    fc.assert(
      fc.property(frameArb, fc.array(fc.nat(), { maxLength: 6 }), (f, cuts) => {
        const got = frames(pushInPieces(new FrameReceiver(), encodeFrame(f), cuts));
        expect(got).toEqual([f]);
      }),
      { numRuns: 1500 },
    );
  });

  it("recovers every frame after arbitrary garbage (1000 cases)", () => {
    // Garbage may contain anything, markers included: whatever state it leaves the receiver in
    // (text, inside a frame line, skipping an oversize line), the next 0x1E starts a fresh frame.
    // The only thing garbage is assumed not to contain is a valid frame line itself (CRC-32: ~2^-32).
    fc.assert(
      fc.property(
        fc.array(fc.tuple(noisyBytes(400), frameArb), { minLength: 1, maxLength: 4 }),
        noisyBytes(100),
        (parts, tail) => {
          const wire = Buffer.concat([...parts.flatMap(([g, f]) => [g, encodeFrame(f)]), tail]);
          expect(frames(new FrameReceiver().push(wire))).toEqual(parts.map(([, f]) => f));
        },
      ),
      { numRuns: 1000 },
    );
  });
});

/** Deterministic PRNG so a failure is reproducible. */
function xorshift(seed: number): () => number {
  let x = seed;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

describe("FrameReceiver on a realistic noisy stream", () => {
  it("decodes every frame and every ESP-IDF log line intact and in order, with 4 KB of random bytes mixed in", () => {
    // What "random" must exclude to be fair: a garbage run is closed by 0x0A before a log line
    // starts. Without it the log line's first bytes continue the garbage's unfinished line (or
    // frame line), and no receiver can tell where garbage ends and the log line begins. Frames
    // need no such care (0x1E always restarts). Inside a run any byte may appear, 0x1E included.
    const rand = xorshift(0x5eed);
    const tags = ["wifi", "prov", "esp_netif_handler", "mqtt_client", "main_task", "nvs"];
    const colours = ["\x1b[0;32m", "\x1b[0;33m", "\x1b[0;31m", ""];
    const logs: string[] = [];
    const sent: Frame[] = [];
    const pieces: Buffer[] = [
      Buffer.from(
        "ets Jun  8 2016 00:22:57\r\n\r\nrst:0x1 (POWERON_RESET),boot:0x13 (SPI_FAST_FLASH_BOOT)\r\n",
      ),
    ];
    logs.push("ets Jun  8 2016 00:22:57", "rst:0x1 (POWERON_RESET),boot:0x13 (SPI_FAST_FLASH_BOOT)");
    let garbageBytes = 0;
    for (let i = 0; i < 100; i++) {
      const colour = colours[rand() % colours.length] as string;
      const level = "IWE"[rand() % 3] as string;
      const line = `${colour}${level} (${1000 + i * 37}) ${tags[rand() % tags.length]}: event ${i} — état ✓ ${rand().toString(16)}${colour ? "\x1b[0m" : ""}`;
      logs.push(line);
      pieces.push(Buffer.from(`${line}\r\n`, "utf8"));
      const f: Frame = {
        version: 1,
        type: 1 + (rand() % 0x30),
        seq: i + 1,
        flags: FLAG_RESPONSE,
        payload: Buffer.alloc(rand() % 300, i),
      };
      sent.push(f);
      pieces.push(encodeFrame(f));
      if (i % 2 === 0) {
        const n = 80 + (rand() % 10);
        const g = Buffer.alloc(n);
        for (let k = 0; k < n; k++) g[k] = rand() & 0xff;
        g[n - 1] = 0x0a;
        garbageBytes += n;
        pieces.push(g);
      }
    }
    expect(garbageBytes).toBeGreaterThanOrEqual(4096);
    const wire = Buffer.concat(pieces);
    for (const pieceSize of [wire.length, 1, 7, 64]) {
      const r = new FrameReceiver();
      const events: ReceiverEvent[] = [];
      for (let at = 0; at < wire.length; at += pieceSize)
        events.push(...r.push(wire.subarray(at, at + pieceSize)));
      expect(frames(events)).toEqual(sent);
      const texts = events.flatMap((e) => (e.kind === "log" ? [e.text] : []));
      // Our lines appear intact, in order (garbage lines may sit between them).
      let at = 0;
      for (const l of logs) {
        const found = texts.indexOf(l, at);
        expect(found, `log line ${JSON.stringify(l)}`).toBeGreaterThanOrEqual(at);
        at = found + 1;
      }
    }
  });
});
