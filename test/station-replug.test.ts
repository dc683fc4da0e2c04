/**
 * docs/station.md: a slot takes the next device plugged into it. A device
 * swapped in while the previous one's pipeline is still running (the
 * operator pulls a board that hangs and plugs in the next) used to be
 * dropped: the watcher reports each arrival once, and the busy slot
 * ignored it, so the new board sat in the fixture untouched.
 */
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { PortEvent, PortSource } from "../src/station/index.js";
import { ensureTwinBuilt, startTwin, type Twin } from "../src/twin/index.js";
import { type StationRig, startRig } from "./station.test-helper.js";

let rig: StationRig;
const twins: Twin[] = [];

beforeAll(async () => {
  await ensureTwinBuilt();
  rig = await startRig("provision-station-replug-");
}, 120_000);

afterAll(async () => {
  await Promise.all(twins.map((t) => t.stop()));
  await rig?.close();
});

describe("station slot replug", () => {
  it("a device plugged into a busy slot (after the old one left) is provisioned when the slot frees", async () => {
    const first = await startTwin({ stateDir: join(rig.dir, "first") });
    const second = await startTwin({ stateDir: join(rig.dir, "second") });
    twins.push(first, second);
    let firstAtKey: () => void = () => {};
    const firstBusy = new Promise<void>((r) => {
      firstAtKey = r;
    });
    // What the fixture watcher reports: A taken, A unplugged while busy, a new board in A.
    const source: PortSource = async function* () {
      yield { kind: "arrive", slot: "A", port: first.port, usbLocation: "1-1.1" } satisfies PortEvent;
      await firstBusy;
      yield { kind: "depart", slot: "A", port: first.port };
      yield { kind: "arrive", slot: "A", port: second.port, usbLocation: "1-1.1" };
    };
    const { station, manifest } = await rig.station({
      concurrency: 2,
      afterStep: (slot, step) => {
        if (slot.port === first.port && step === "key") firstAtKey();
      },
    });
    const summary = await station.run(source);
    await manifest.close();
    expect(summary.records.map((r) => [r.deviceId, r.ok])).toEqual([
      [first.deviceId, true],
      [second.deviceId, true],
    ]);
    expect(station.slots.get("A")?.okCount).toBe(2);
  }, 90_000);
});
