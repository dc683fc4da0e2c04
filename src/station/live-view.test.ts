import { PassThrough } from "node:stream";
import { describe, expect, it } from "vitest";
import { LiveView, renderChange, renderRows } from "./live-view.js";
import { newSlot, type SlotView } from "./slot.js";
import { rollbackOutcomeOf } from "./station.js";

function slots(): Map<string, SlotView> {
  const a = newSlot("A1", "/dev/ttyUSB0");
  a.phase = "register";
  a.deviceId = "aaaaaaaaaaaa";
  a.startedAt = 1000;
  const b = newSlot("A2", "/dev/ttyUSB1");
  b.phase = "failed";
  b.failedCount = 1;
  b.okCount = 2;
  b.last = {
    ok: false,
    outcome: "PORT_IO",
    deviceId: "bbbbbbbbbbbb",
    message: "gone",
    rollback: "rolled-back",
    totalMs: 900,
  };
  return new Map([
    ["A1", a],
    ["A2", b],
  ]);
}

describe("live view", () => {
  it("one row per slot with step, elapsed time and last result, then totals and rate", () => {
    const rows = renderRows({ slots: slots(), rate: () => 42 }, 3500);
    expect(rows).toHaveLength(4);
    expect(rows[1]).toMatch(/^A1\s+\/dev\/ttyUSB0\s+aaaaaaaaaaaa\s+register\s+2\.5 s/);
    expect(rows[2]).toContain("FAILED");
    expect(rows[2]).toContain("PORT_IO [rolled-back]: gone");
    expect(rows[3]).toBe("total 2 ok, 1 failed, 1 in flight, 42.0 devices/min");
    // Slots named by their port: no separate PORT column.
    const byPort = new Map([["/dev/ttyUSB0", { ...(slots().get("A1") as SlotView), slot: "/dev/ttyUSB0" }]]);
    const plain = renderRows({ slots: byPort, rate: () => 0 }, 3500);
    expect(plain[0]).not.toContain("PORT");
    expect(plain[1]).toMatch(/^\/dev\/ttyUSB0\s+aaaaaaaaaaaa\s+register/);
  });

  it("not a TTY: plain lines, one per change, no control codes", () => {
    const out = new PassThrough();
    let text = "";
    out.on("data", (b: Buffer) => {
      text += b.toString();
    });
    const s = slots();
    const view = new LiveView({ slots: s, rate: () => 0 }, { stream: out, tty: false, now: () => 2000 });
    const a = s.get("A1") as SlotView;
    const before = { ...a };
    a.phase = "hello";
    a.deviceId = undefined;
    view.slotChanged(a); // no device id yet: no line
    Object.assign(a, before);
    view.slotChanged(a);
    view.slotChanged(a); // unchanged: no second line
    a.phase = "credentials";
    view.slotChanged(a);
    view.stop();
    expect(text).toBe("[A1] aaaaaaaaaaaa register 1.0 s\n[A1] aaaaaaaaaaaa credentials 1.0 s\n");
    expect(text).not.toContain("\x1b[");
    expect(renderChange(s.get("A2") as SlotView, 0)).toBe("[A2] bbbbbbbbbbbb PORT_IO [rolled-back]: gone");
  });

  it("TTY: redraws the block in place (cursor up over the lines drawn before)", () => {
    const out = new PassThrough();
    const chunks: string[] = [];
    out.on("data", (b: Buffer) => chunks.push(b.toString()));
    const view = new LiveView({ slots: slots(), rate: () => 0 }, { stream: out, tty: true, now: () => 2000 });
    view.draw(true);
    view.draw(true);
    expect(chunks[0]?.startsWith("\x1b[")).toBe(false);
    expect(chunks[1]?.startsWith("\x1b[4F\x1b[0J")).toBe(true);
  });

  it("rollback outcome from the ledger runs of this attempt only", () => {
    const since = "2026-11-27T08:00:00.000Z";
    const old = { device: "d", startedAt: "2026-11-27T07:00:00.000Z", status: "rolled-back" };
    expect(rollbackOutcomeOf([old], "d", since)).toBe("nothing-registered");
    expect(
      rollbackOutcomeOf([old, { device: "d", startedAt: since, status: "rolled-back" }], "d", since),
    ).toBe("rolled-back");
    expect(rollbackOutcomeOf([{ device: "d", startedAt: since, status: "rollback-open" }], "d", since)).toBe(
      "rollback-open",
    );
    expect(rollbackOutcomeOf([{ device: "d", startedAt: since, status: "committed" }], "d", since)).toBe(
      "kept",
    );
    expect(rollbackOutcomeOf([], undefined, since)).toBe("nothing-registered");
  });
});

describe("request rate peaks", () => {
  it("counts the most requests within any window of at most 1 s", async () => {
    const { peakPerWindow } = await import("./request-rates.js");
    const samples = [
      { t: 0, counts: { A: 0 } },
      { t: 500, counts: { A: 10 } },
      { t: 1000, counts: { A: 14 } },
      { t: 1600, counts: { A: 30 } },
      { t: 2700, counts: { A: 31 } },
    ];
    // 0..1000: 14; 500..1600 is 1.1 s (too wide), 1000..1600: 16; 1600..2700 too wide.
    expect(peakPerWindow(samples)).toEqual({ A: 16 });
  });
});
