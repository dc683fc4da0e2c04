/**
 * The last step: restart the device and wait, on the cloud side, for its
 * first message. Abandoned (not failed) when the job is interrupted: the
 * device keeps what it committed, and `provision verify` can wait later.
 */
import { asProvisionError } from "../errors.js";
import type { Observer } from "../observer/index.js";
import { RESTART_DELAY_DEFAULT_MS } from "../protocol/index.js";
import type { DeviceSession } from "../session/index.js";
import { unlessInterrupted } from "./interruption.js";

export interface FirstPublish {
  topic: string;
  /** Payload as UTF-8 text, e.g. `{"counter": 0}`. */
  payload: string;
  /** Epoch ms: restart asked, lifecycle "connected" seen (if it was), first message received. */
  restartedAt: number;
  connectedAt?: number;
  receivedAt: number;
}

export interface FirstMessageReport {
  topic: string;
  payload: string;
  connectMs?: number;
  firstPublishMs: number;
}

/**
 * Restart the device and wait for its first publish. The observer's
 * subscriptions are acknowledged before the restart, so not even a device
 * that connects within milliseconds can be missed.
 */
export async function restartAndWatch(
  session: DeviceSession,
  observer: Observer,
  thingName: string,
  topic: string,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<FirstPublish> {
  await unlessInterrupted(signal, observer.watch(thingName, topic));
  try {
    const restartedAt = Date.now();
    await session.restart();
    // A device that was running (verify, rotation) publishes on this topic until it restarts, which it
    // does RESTART_DELAY_DEFAULT_MS after answering: only what comes after is the new boot's message.
    const notBefore = new Date(Date.now() + RESTART_DELAY_DEFAULT_MS);
    const waiting = observer
      .waitForFirstMessage(thingName, topic, timeoutMs, { notBefore })
      .catch((e: unknown) => {
        // The device's own words are the best clue for a device that never published.
        const err = asProvisionError(e);
        throw err.with({
          where: `${err.where ?? `thing ${thingName}`} on ${session.port}`,
          deviceLog: session.deviceLog.slice(-20),
          cause: e,
        });
      });
    const first = await unlessInterrupted(signal, waiting);
    const out: FirstPublish = {
      topic: first.topic,
      payload: first.payload.toString("utf8"),
      restartedAt,
      receivedAt: first.receivedAt.getTime(),
    };
    if (first.connectedAt) out.connectedAt = first.connectedAt.getTime();
    return out;
  } finally {
    await observer.unwatch(thingName, topic);
  }
}

export function firstMessageReport(m: FirstPublish): FirstMessageReport {
  const out: FirstMessageReport = {
    topic: m.topic,
    payload: m.payload,
    firstPublishMs: m.receivedAt - m.restartedAt,
  };
  if (m.connectedAt !== undefined) out.connectMs = m.connectedAt - m.restartedAt;
  return out;
}
