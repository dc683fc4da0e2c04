/**
 * A COMMIT whose answers are lost on the line (noise, a USB hiccup) may still
 * have happened on the device. The pipeline must not then delete the
 * certificate the device now holds: it asks STATUS, and when the committed
 * set is the one it sent, it carries on. Real parts: the C twin on a pty,
 * the local AWS IoT, the observer over WSS.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Progress, StepTiming } from "../src/cli/progress.js";
import { Ledger } from "../src/ledger/index.js";
import { type LocalIot, startLocalIot } from "../src/local-iot/service.js";
import type { Observer } from "../src/observer/index.js";
import { FrameReceiver, MSG } from "../src/protocol/index.js";
import {
  POLICY_NAME_DEFAULT,
  provisionDevice,
  THING_NAME_TEMPLATE_DEFAULT,
} from "../src/provision/pipeline.js";
import { type CloudTarget, targetForLocalIot } from "../src/provision/target.js";
import { TOPIC_DEFAULT } from "../src/registry/index.js";
import { DeviceSession } from "../src/session/index.js";
import { openSerialTransport, type Transport } from "../src/transport/index.js";
import { ensureTwinBuilt, startTwin } from "../src/twin/index.js";

let dir: string;
let iot: LocalIot;
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

function quietProgress(): Progress {
  const timings: StepTiming[] = [];
  return {
    timings,
    info: () => {},
    async step(name, _label, run) {
      const started = performance.now();
      const r = await run();
      timings.push({ step: name, ms: performance.now() - started, ok: true });
      return r;
    },
  };
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "provision-commit-lost-"));
  await ensureTwinBuilt();
  iot = await startLocalIot({ stateDir: join(dir, "iot"), detachDelayMs: 20 });
  target = await targetForLocalIot(iot, { maxAttempts: 2 });
  observer = await target.openObserver();
  ledger = await Ledger.open(join(dir, "ledger.jsonl"));
}, 120_000);

afterAll(async () => {
  await observer?.close();
  await ledger?.close();
  await target?.close();
  await iot?.stop();
  await rm(dir, { recursive: true, force: true });
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
        {
          thingNameTemplate: THING_NAME_TEMPLATE_DEFAULT,
          topic: TOPIC_DEFAULT,
          policyName: POLICY_NAME_DEFAULT,
          intervalMs: 5000,
          subject: {},
          force: false,
          lock: false,
          firstPublishTimeoutMs: 15_000,
        },
      );
      expect(session.stats.retries).toBeGreaterThanOrEqual(1);
      expect(result.mode).toBe("provisioned");
      expect(JSON.parse(result.firstMessage.payload)).toEqual({ counter: 0 });
      const cert = await target.registry.describeCertificate(result.certificateId ?? "");
      expect(cert?.status).toBe("ACTIVE");
    } finally {
      await session.close();
      await twin.stop();
    }
  }, 60_000);
});
