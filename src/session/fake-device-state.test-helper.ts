/**
 * What the fake device stores (its state, keys, staged and committed
 * credentials) and how STATUS reports it, apart from the frame handling.
 */
import { type Answers, type Requests, sha256 } from "../protocol/index.js";
import type { Key } from "./fake-device-keys.test-helper.js";

export interface CommittedSet {
  payload: Buffer;
  certDigest: Buffer;
  fields: Requests["WRITE_CREDENTIALS"];
}

export interface FakeDeviceState {
  state: number;
  key: Key | undefined;
  pendingKey: Key | undefined;
  staged: Buffer | undefined;
  committed: CommittedSet | undefined;
  generation: number;
}

/** The STATUS answer for what the device holds now. */
export function statusAnswerOf(d: FakeDeviceState): Answers["STATUS"] {
  const a: Answers["STATUS"] = { state: d.state };
  if (d.key) {
    a.keyType = d.key.keyType;
    a.keyStore = d.key.keyStore;
    a.publicKeySha256 = sha256(d.key.spki);
  }
  if (d.pendingKey) a.pendingKeySha256 = sha256(d.pendingKey.spki);
  if (d.committed) {
    const c = d.committed.fields;
    Object.assign(a, {
      thingName: c.thingName,
      endpoint: c.endpoint,
      mqttPort: c.mqttPort,
      topic: c.topic,
      certSha256: d.committed.certDigest,
      generation: d.generation,
      setDigest: sha256(d.committed.payload),
    });
  }
  if (d.staged) a.stagedLength = d.staged.length;
  return a;
}
