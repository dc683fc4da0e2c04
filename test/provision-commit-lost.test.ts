import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Ledger } from "../src/ledger/index.js";
import type { Observer } from "../src/observer/index.js";
import { FrameReceiver, MSG } from "../src/protocol/index.js";
import { provisionDevice } from "../src/provision/pipeline.js";
import type { CloudTarget } from "../src/provision/target.js";
import { DeviceSession } from "../src/session/index.js";
import { openSerialTransport, type Transport } from "../src/transport/index.js";
import { ensureTwinBuilt, startTwin } from "../src/twin/index.js";
import { type LocalCloud, openLocalCloud, quietProgress, testPlan } from "./local-cloud.test-helper.js";

let dir: string;
let target: CloudTarget;
let observer: Observer;
let ledger: Ledger;

/** Passes bytes both ways, but drops what the device sends for `dropMs` after the host's first COMMIT. */
function losingCommitAnswers(inner: Transport, dropMs: number): Transport {
  const tx = new FrameReceiver();
  let dropUntil = 0;
  let commitSeen = false;
  return {
    get name() {
      return inner.name;
    },
    get baudRate() {
      return inner.baudRate;
    },
    get isOpen() {
      return inner.isOpen;
    },
    async write(bytes) {
      for (const e of tx.push(Buffer.from(bytes))) {
        if (e.kind === "frame" && e.frame.type === MSG.COMMIT && !commitSeen) {
          commitSeen = true;
          dropUntil = Date.now() + dropMs;
        }
      }
      await inner.write(bytes);
    },
    onData: (listener) =>
      inner.onData((bytes) => {
        if (Date.now() >= dropUntil) listener(bytes);
      }),
    onClose: (listener) => inner.onClose(listener),
    setBaudRate: (rate) => inner.setBaudRate(rate),
    setSignals: (signals) => inner.setSignals(signals),
    close: () => inner.close(),
  };
}

let cloud: LocalCloud;

beforeAll(async () => {
  await ensureTwinBuilt();
  cloud = await openLocalCloud("provision-commit-lost-");
  ({ dir, target, observer, ledger } = cloud);
}, 120_000);

afterAll(async () => {
  await cloud?.close();
});

describe("COMMIT answered but the answers were lost", () => {
  it("keeps the registration the device committed, and the device publishes with it", async () => {
    const twin = await startTwin({ stateDir: join(dir, "twin") });
    const serial = await openSerialTransport(twin.port);
    // Two COMMIT attempts of 300 ms: both answers fall in the 700 ms window; STATUS afterwards gets through.
    const session = new DeviceSession(losingCommitAnswers(serial, 700), {
      timing: { COMMIT: { timeoutMs: 300, attempts: 2 } },
    });
    try {
      const result = await provisionDevice(
        { session, target, ledger, observer, progress: quietProgress() },
        testPlan(),
      );
      expect(session.stats.retries).toBeGreaterThanOrEqual(1);
      expect(result.mode).toBe("provisioned");
      expect(JSON.parse(result.firstMessage?.payload ?? "null")).toEqual({ counter: 0 });
      const cert = await target.registry.describeCertificate(result.certificateId ?? "");
      expect(cert?.status).toBe("ACTIVE");
    } finally {
      await session.close();
      await twin.stop();
    }
  }, 60_000);
});
