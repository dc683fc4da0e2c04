/**
 * The TypeScript protocol side against the C device twin
 * (firmware-templates/host) on its own pty: the same bytes, not just the same
 * vectors. Pipeline-level twin tests live elsewhere; these pin the protocol
 * mechanics (duplicates, versions, resync, chunking, baud switch).
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { credentialSet } from "../scripts/bench-overhead.js";
import {
  decodeResponse,
  encodeFrame,
  encodeFrameBody,
  encodeRequest,
  type Frame,
  FrameReceiver,
  KEY_STORE,
  KEY_TYPE,
  MSG,
  STATUS,
} from "../src/protocol/index.js";
import { DeviceSession } from "../src/session/index.js";
import { openSerialTransport, type Transport } from "../src/transport/index.js";
import { startTwin, type Twin } from "../src/twin/launcher.js";

let dir: string;
let twin: Twin;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "protocol-twin-"));
  twin = await startTwin({ stateDir: join(dir, "state"), bootBanner: true, lineRateBaud: 115200 });
});
afterAll(async () => {
  await twin?.stop();
  await rm(dir, { recursive: true, force: true });
});

/** Sends raw bytes and collects the frames that come back until `count` arrived (or 3 s). */
async function rawExchange(t: Transport, bytes: Buffer, count: number): Promise<Frame[]> {
  const rx = new FrameReceiver();
  const frames: Frame[] = [];
  let stop: () => void = () => undefined;
  const done = new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, 3000);
    stop = t.onData((b) => {
      for (const e of rx.push(b)) if (e.kind === "frame" && e.frame.type !== MSG.EVENT) frames.push(e.frame);
      if (frames.length >= count) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  await t.write(bytes);
  await done;
  stop();
  return frames;
}

describe("protocol against the C twin", () => {
  it("answers a resent frame from its cache (same bytes, executed once) and a version-2 frame with ERR_VERSION", async () => {
    const t = await openSerialTransport(twin.port);
    try {
      const gen = encodeFrame({
        version: 1,
        type: MSG.GENERATE_KEY,
        seq: 500,
        flags: 0,
        payload: encodeRequest("GENERATE_KEY", {
          keyType: KEY_TYPE.EC_P256,
          keyStore: KEY_STORE.FILE,
          force: true,
        }),
      });
      const [first] = await rawExchange(t, gen, 1);
      const [again] = await rawExchange(t, gen, 1);
      expect(first && again && encodeFrame(first).equals(encodeFrame(again))).toBe(true);
      const a = decodeResponse("GENERATE_KEY", (first as Frame).payload);
      expect(a.ok && a.value.ok && a.value.fields.created).toBe(true);

      const v2 = encodeFrameBody({
        version: 2,
        type: MSG.HELLO,
        seq: 0x4242,
        flags: 0,
        payload: Buffer.from("01000102", "hex"),
      });
      const [answer] = await rawExchange(t, Buffer.from(`\x1e${v2.toString("base64")}\n`, "latin1"), 1);
      expect(answer).toMatchObject({ version: 1, type: MSG.HELLO, seq: 0x4242 });
      expect(answer?.payload[0]).toBe(STATUS.ERR_VERSION);
    } finally {
      await t.close();
    }
  });

  it("talks to the twin through DeviceSession after garbage, chunks a 3.3 KB set, switches baud", async () => {
    const transport = await openSerialTransport(twin.port);
    // Noise on the line first (closed by a newline, 0x1E bytes inside), as from a peer at the wrong rate.
    const noise = Buffer.alloc(4096);
    for (let i = 0; i < noise.length; i++) noise[i] = (i * 97 + 13) & 0xff;
    noise[noise.length - 1] = 0x0a;
    await transport.write(noise);
    const session = new DeviceSession(transport, { recordWire: true });
    try {
      const hello = await session.hello();
      expect(hello.version).toBe(1);
      const key = await session.generateKey({ keyType: KEY_TYPE.EC_P256, keyStore: KEY_STORE.FILE });
      expect(key.created).toBe(false); // made by the raw test above, reported not replaced
      // The PEMs are filler, so the twin refuses the certificate: but only after reassembling
      // and checking the digest of all chunks (no ERR_CHUNK / ERR_DIGEST).
      const e = await session.writeCredentials(credentialSet(true)).catch((x: unknown) => x);
      expect(e).toMatchObject({ code: "DEVICE_REFUSED", details: { deviceError: "ERR_BAD_CERT" } });
      const sent = session.wire.filter((w) => w.direction === "tx").length;
      expect(sent).toBeGreaterThanOrEqual(4);
      if (hello.baudRates.includes(921600)) {
        expect(await session.setBaud(921600)).toEqual({ baudRate: 921600, fellBack: false });
        expect(await session.ping(Buffer.from("fast"))).toEqual(Buffer.from("fast"));
      }
    } finally {
      await session.close();
    }
  });
});

describe("a device that answers slowly", () => {
  it("at 50 B/s (500 baud) HELLO and STATUS are answered, each once: an answer still arriving is waited for, not retried or called silent", async () => {
    const slow = await startTwin({ stateDir: join(dir, "slow"), lineRateBaud: 500 });
    const session = new DeviceSession(await openSerialTransport(slow.port));
    try {
      const started = Date.now();
      const hello = await session.hello();
      expect(hello.deviceId).toBe(slow.deviceId);
      // Longer than one attempt's 1 s timeout: the old session resent it and then reported "no answer".
      expect(Date.now() - started).toBeGreaterThan(1000);
      expect((await session.status()).state).toBeDefined();
      expect(session.stats.retries).toBe(0);
      expect(session.stats.framesSent).toBe(2);
    } finally {
      await session.close();
      await slow.stop();
    }
  }, 60_000);
});
