/**
 * Wire overhead of WRITE_CREDENTIALS: bytes on the wire in both directions
 * (request frames or chunks, chunk acks, final response) divided by the
 * credential payload bytes (the encoded WRITE_CREDENTIALS payload), over the
 * in-memory transport against the fake device.
 *
 * Run: npx tsx scripts/bench-overhead.ts
 */
import { pathToFileURL } from "node:url";
import { type CredentialSet, encodeRequest, KEY_STORE, KEY_TYPE } from "../src/protocol/index.js";
import { FakeDevice } from "../src/session/fake-device.test-helper.js";
import { DeviceSession } from "../src/session/index.js";
import { createMemoryTransportPair } from "../src/transport/index.js";

/** PEM-shaped text of exactly `bytes` characters (64-column base64 lines). */
export function pemOfSize(bytes: number): string {
  const head = "-----BEGIN CERTIFICATE-----\n";
  const tail = "-----END CERTIFICATE-----\n";
  let body = "";
  const room = bytes - head.length - tail.length;
  while (body.length < room) {
    const line = "MIIDQTCCAimgAwIBAgITBmyfz5m/jAo54vB4ikPmljZbyjANBgkqhkiG9w0BAQsF".slice(
      0,
      Math.min(64, room - body.length - 1),
    );
    body += `${line}\n`;
  }
  return head + body.slice(0, room) + tail;
}

/** Real sizes: a typical AWS IoT device certificate, AmazonRootCA1.pem, AmazonRootCA3.pem. */
export const CERT_PEM_BYTES = 1300;
export const ROOT_CA1_PEM_BYTES = 1188;
export const ROOT_CA3_PEM_BYTES = 656;

export function credentialSet(withRoots: boolean): CredentialSet {
  return {
    certificatePem: pemOfSize(CERT_PEM_BYTES),
    rootCaPem: withRoots ? pemOfSize(ROOT_CA1_PEM_BYTES) + pemOfSize(ROOT_CA3_PEM_BYTES) : "",
    endpoint: "a1b2c3d4e5f6g7-ats.iot.eu-west-1.amazonaws.com",
    mqttPort: 8883,
    thingName: "esp32-a1b2c3d4e5f6",
    topic: "devices/esp32-a1b2c3d4e5f6/counter",
    publishIntervalMs: 5000,
    wifiSsid: "workshop",
    wifiPassword: "correct horse battery staple",
  };
}

export interface OverheadResult {
  maxFrame: number;
  payloadBytes: number;
  frames: number;
  txBytes: number;
  rxBytes: number;
  /** (tx + rx) / payload bytes */
  ratio: number;
}

export async function measureOverhead(set: CredentialSet, maxFrame: number): Promise<OverheadResult> {
  const [host, dev] = createMemoryTransportPair();
  const device = new FakeDevice(dev, { maxFrame });
  const session = new DeviceSession(host, { recordWire: true });
  try {
    await session.hello();
    await session.generateKey({ keyType: KEY_TYPE.EC_P256, keyStore: KEY_STORE.FILE });
    session.wire.length = 0;
    const before = session.stats.framesSent;
    await session.writeCredentials(set);
    const { tx, rx } = session.wireBytes();
    const payloadBytes = encodeRequest("WRITE_CREDENTIALS", set).length;
    return {
      maxFrame,
      payloadBytes,
      frames: session.stats.framesSent - before,
      txBytes: tx,
      rxBytes: rx,
      ratio: (tx + rx) / payloadBytes,
    };
  } finally {
    await session.close();
    await device.stop();
  }
}

async function main(): Promise<void> {
  const rows: string[] = [
    "| credential set | payload B | max_frame | frames | host->dev B | dev->host B | ratio |",
    "|---|---|---|---|---|---|---|",
  ];
  for (const [label, withRoots] of [
    ["1.3 KB certificate only", false],
    ["certificate + Amazon Root CA 1 + CA 3", true],
  ] as const) {
    for (const maxFrame of [2048, 256]) {
      const r = await measureOverhead(credentialSet(withRoots), maxFrame);
      rows.push(
        `| ${label} | ${r.payloadBytes} | ${maxFrame} | ${r.frames} | ${r.txBytes} | ${r.rxBytes} | ${r.ratio.toFixed(3)} |`,
      );
    }
  }
  process.stdout.write(`${rows.join("\n")}\n`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
