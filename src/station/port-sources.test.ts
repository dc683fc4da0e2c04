import { describe, expect, it } from "vitest";
import type { PortDescription } from "../ports/index.js";
import { explicitPorts, type PortEvent, parseFixture, slotForLocation, watchPorts } from "./port-sources.js";

const port = (path: string, usbLocation: string, board = true): PortDescription => ({
  path,
  vid: "10c4",
  pid: "ea60",
  usbLocation,
  boardCandidates: board ? ["esp32-devkitc"] : [],
  ...(board ? { boardGuess: "esp32-devkitc" } : {}),
  source: "sysfs",
});

async function collect(source: ReturnType<typeof watchPorts>, until: (events: PortEvent[]) => boolean) {
  const stop = new AbortController();
  const events: PortEvent[] = [];
  for await (const e of source(stop.signal)) {
    events.push(e);
    if (until(events)) stop.abort();
  }
  return events;
}

describe("port sources", () => {
  it("explicit ports: one slot per distinct path", async () => {
    const events: PortEvent[] = [];
    for await (const e of explicitPorts(["/dev/a", "/dev/b", "/dev/a"])(new AbortController().signal))
      events.push(e);
    expect(events).toEqual([
      { kind: "arrive", slot: "/dev/a", port: "/dev/a" },
      { kind: "arrive", slot: "/dev/b", port: "/dev/b" },
    ]);
  });

  it("fixture map: validated, one location per slot; interfaces belong to their device's slot", () => {
    const fixture = parseFixture({ A1: "1-1.1", A2: "1-1.2:1.0" }, "f.json");
    expect(slotForLocation(fixture, "1-1.1:1.0")).toBe("A1");
    expect(slotForLocation(fixture, "1-1.2:1.0")).toBe("A2");
    expect(slotForLocation(fixture, "1-1.3:1.0")).toBeUndefined();
    expect(() => parseFixture({ A1: "1-1.1", B1: "1-1.1" }, "f.json")).toThrow(/same USB location/);
    expect(() => parseFixture({ A1: "/dev/ttyUSB0" }, "f.json")).toThrow(/fixture map is invalid/);
    expect(() => parseFixture({}, "f.json")).toThrow(/at least one slot/);
  });

  it("watch with a fixture: a replug under another path keeps its slot; unknown locations are ignored", async () => {
    const lists: PortDescription[][] = [
      [port("/dev/ttyUSB0", "1-1.1:1.0"), port("/dev/ttyUSB1", "1-1.9:1.0")],
      [],
      [port("/dev/ttyUSB4", "1-1.1:1.0")],
    ];
    let call = 0;
    const ignored: string[] = [];
    const source = watchPorts({
      intervalMs: 1,
      fixture: { A1: "1-1.1" },
      list: async () => lists[Math.min(call++, lists.length - 1)] ?? [],
      onIgnored: (p) => ignored.push(p.path),
    });
    const events = await collect(source, (e) => e.length >= 3);
    expect(events).toEqual([
      {
        kind: "arrive",
        slot: "A1",
        port: "/dev/ttyUSB0",
        usbLocation: "1-1.1:1.0",
        boardGuess: "esp32-devkitc",
      },
      { kind: "depart", slot: "A1", port: "/dev/ttyUSB0" },
      {
        kind: "arrive",
        slot: "A1",
        port: "/dev/ttyUSB4",
        usbLocation: "1-1.1:1.0",
        boardGuess: "esp32-devkitc",
      },
    ]);
    expect(ignored).toEqual(["/dev/ttyUSB1"]);
  });

  it("watch without a fixture: only ports whose USB ids match a board, named by USB location", async () => {
    const source = watchPorts({
      intervalMs: 1,
      list: async () => [port("/dev/ttyUSB0", "1-2:1.0"), port("/dev/ttyACM0", "1-3:1.0", false)],
    });
    const events = await collect(source, (e) => e.length >= 1);
    expect(events[0]).toMatchObject({ kind: "arrive", slot: "1-2:1.0", port: "/dev/ttyUSB0" });
  });
});
