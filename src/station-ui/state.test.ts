import { describe, expect, it } from "vitest";
import type { DeviceRecord } from "../station/index.js";
import { newSlot, type SlotView } from "../station/slot.js";
import { RATE_BUCKET_MS, StationUiState } from "./state.js";

const WIFI = "hunter2-wifi";

function source() {
  const a = newSlot("A1", "/dev/ttyUSB0");
  const slots = new Map<string, SlotView>([["A1", a]]);
  return { slots, rate: () => 12.34, accountId: undefined as string | undefined, a };
}

function record(ok: boolean, extra: Partial<DeviceRecord> = {}): DeviceRecord {
  return {
    slot: "A1",
    port: "/dev/ttyUSB0",
    ok,
    outcome: ok ? "provisioned" : "DEVICE_SILENT",
    startedAt: new Date(0).toISOString(),
    totalMs: 800,
    timings: {},
    ...extra,
  };
}

describe("the page's state", () => {
  it("cuts the secrets out of every string and escapes what a terminal would act on", () => {
    const s = source();
    const state = new StationUiState({ stationId: "st", target: "AWS IoT" }, [WIFI, "ab", undefined]);
    state.attach(s);
    s.a.phase = "failed";
    s.a.last = {
      ok: false,
      outcome: "DEVICE_SILENT",
      message: `the device printed psk=${WIFI}\x1b]0;x\x07`,
      hint: "check <b>the cable</b>",
      deviceLog: ["a", "b", "c", "d", "e", "f", `<script>${WIFI}</script>`],
      totalMs: 5,
    };
    state.deviceFinished(record(false, { error: { code: "DEVICE_SILENT", message: `psk=${WIFI}` } }), 1000);
    const snap = JSON.stringify(state.snapshot());
    expect(snap).not.toContain(WIFI);
    expect(snap).toContain("psk=[secret]");
    expect(snap).toContain("\\\\x1b]0;x\\\\x07");
    // Short "secrets" are not cut (every "ab" on the page would go).
    const slot = state.snapshot().slots[0];
    expect(slot?.last?.hint).toBe("check <b>the cable</b>");
    // The last six log lines, the newest last.
    expect(slot?.last?.deviceLog).toEqual(["b", "c", "d", "e", "f", "<script>[secret]</script>"]);
    expect(state.snapshot().failures[0]?.deviceLog?.at(-1)).toBe("<script>[secret]</script>");
  });

  it("an update carries only what changed since the last one, and nothing when nothing did", () => {
    const s = source();
    const b = newSlot("A2", "/dev/ttyUSB1");
    s.slots.set("A2", b);
    const state = new StationUiState({ stationId: "st", target: "AWS IoT" });
    state.attach(s);
    expect(state.takeUpdate()?.status).toBe("running");
    expect(state.takeUpdate()).toBeUndefined();
    s.a.phase = "key";
    state.slotChanged(s.a);
    state.slotChanged(s.a);
    const first = state.takeUpdate(5);
    expect(first?.slots.map((x) => x.slot)).toEqual(["A1"]);
    expect(first?.totals).toEqual({ done: 0, failed: 0, inFlight: 1, waiting: 1, devicesPerMin: 12.3 });
    state.deviceFinished(record(true), 10 * RATE_BUCKET_MS + 1);
    state.deviceFinished(record(false), 10 * RATE_BUCKET_MS + 2);
    const second = state.takeUpdate();
    expect(second?.slots).toEqual([]);
    expect(second?.finished).toEqual([
      [10 * RATE_BUCKET_MS + 1, true],
      [10 * RATE_BUCKET_MS + 2, false],
    ]);
    expect(second?.failures).toHaveLength(1);
    expect(state.takeUpdate()).toBeUndefined();
  });

  it("the rate chart counts devices per bucket from the first one; not-started devices are not counted", () => {
    const s = source();
    const state = new StationUiState({ stationId: "st", target: "AWS IoT" });
    state.attach(s);
    const t0 = 7 * RATE_BUCKET_MS + 300;
    state.deviceFinished(record(true), t0);
    state.deviceFinished(record(true), t0 + RATE_BUCKET_MS);
    state.deviceFinished(record(false), t0 + 3 * RATE_BUCKET_MS);
    state.deviceFinished(record(false, { outcome: "not-started" }), t0 + 3 * RATE_BUCKET_MS);
    const { rate, totals } = state.snapshot();
    expect(rate.from).toBe(7 * RATE_BUCKET_MS);
    expect(rate.buckets).toEqual([
      [1, 0],
      [1, 0],
      [0, 0],
      [0, 1],
    ]);
    expect([totals.done, totals.failed]).toEqual([2, 1]);
  });

  it("learns the account once a certificate named it", () => {
    const s = source();
    const state = new StationUiState({ stationId: "st", target: "AWS IoT" });
    state.attach(s);
    state.takeUpdate();
    s.accountId = "123456789012";
    state.deviceFinished(record(true), 1);
    expect(state.takeUpdate()?.info?.account).toBe("123456789012");
    expect(state.snapshot().info.account).toBe("123456789012");
  });
});
