/**
 * Where the station's ports come from: an explicit list, or a watcher that
 * polls the port list (hotplug) and reports ports arriving and leaving. With
 * a fixture map a port is known by its USB location, so the socket keeps its
 * name (and its row in the live view) across replugs and re-enumeration
 * (/dev/ttyUSB3 today may be /dev/ttyUSB7 after a replug; "1-1.3" stays).
 */
import { z } from "zod";
import { formatIssues, guessBoardByUsb } from "../boards/index.js";
import { readBoundedFile } from "../bounded-read.js";
import { ProvisionError } from "../errors.js";
import type { PortDescription } from "../ports/index.js";
import { listPorts } from "../ports/index.js";

export type PortEvent =
  | { kind: "arrive"; slot: string; port: string; usbLocation?: string; boardGuess?: string }
  | { kind: "depart"; slot: string; port: string };

/** A source ends when it has nothing more to offer (explicit list) or when `signal` aborts (watcher). */
export type PortSource = (signal: AbortSignal) => AsyncIterable<PortEvent>;

export const WATCH_INTERVAL_MS_DEFAULT = 1000;

/** Each path is its own slot, named by the path. */
export function explicitPorts(paths: readonly string[]): PortSource {
  const unique = [...new Set(paths)];
  return async function* (signal) {
    for (const port of unique) {
      if (signal.aborted) return;
      yield { kind: "arrive", slot: port, port };
    }
  };
}

/**
 * Ports flowing through `slots` fixture slots (S1, S2, ...), the next one
 * plugged into a slot as soon as that slot's device is done, as an operator
 * swaps boards: call `done(slot)` when the station reports the slot's
 * device. The source ends once every port was handed out.
 */
export function swappedPorts(
  paths: readonly string[],
  slots: number,
): { source: PortSource; done(slot: string): void } {
  const waiting = [...paths];
  const ready: PortEvent[] = [];
  const current = new Map<string, string>();
  let wake: (() => void) | undefined;
  const plug = (slot: string) => {
    const port = waiting.shift();
    if (port === undefined) return;
    const previous = current.get(slot);
    if (previous !== undefined) ready.push({ kind: "depart", slot, port: previous });
    current.set(slot, port);
    ready.push({ kind: "arrive", slot, port });
    wake?.();
  };
  for (let i = 1; i <= Math.min(slots, paths.length); i++) plug(`S${i}`);
  return {
    done: plug,
    source: async function* (signal) {
      const onAbort = () => wake?.();
      signal.addEventListener("abort", onAbort, { once: true });
      try {
        while (!signal.aborted) {
          const event = ready.shift();
          if (event !== undefined) {
            yield event;
            continue;
          }
          if (waiting.length === 0) return;
          await new Promise<void>((resolve) => {
            wake = resolve;
          });
          wake = undefined;
        }
      } finally {
        signal.removeEventListener("abort", onAbort);
      }
    },
  };
}

/** Slot name -> USB location (as `provision ports` shows it, e.g. "1-1.3:1.0" or "1-1.3"). */
export type FixtureMap = Record<string, string>;

const FixtureSchema = z
  .record(
    z.string().min(1).max(64),
    z.string().regex(/^[0-9]+-[0-9.]+(:[0-9]+\.[0-9]+)?$/, "a USB location such as 1-1.3 or 1-1.3:1.0"),
  )
  .refine((m) => Object.keys(m).length > 0, "at least one slot");

export function parseFixture(data: unknown, where: string): FixtureMap {
  const parsed = FixtureSchema.safeParse(data);
  if (!parsed.success) {
    throw new ProvisionError("CONFIG", `fixture map is invalid: ${formatIssues(parsed.error.issues)}`, {
      where,
      hint: 'expected JSON like {"A1": "1-1.1", "A2": "1-1.2"} (slot name -> USB location, see `provision ports`)',
    });
  }
  const byLocation = new Map<string, string>();
  for (const [slot, location] of Object.entries(parsed.data)) {
    const other = byLocation.get(location);
    if (other !== undefined) {
      throw new ProvisionError(
        "CONFIG",
        `fixture slots ${other} and ${slot} have the same USB location ${location}`,
        {
          where,
          hint: "each slot needs its own USB location",
        },
      );
    }
    byLocation.set(location, slot);
  }
  return parsed.data;
}

export function loadFixture(file: string): FixtureMap {
  let data: unknown;
  try {
    data = JSON.parse(readBoundedFile(file, "fixture", "fixture map", "--fixture"));
  } catch (e) {
    if (e instanceof ProvisionError) throw e;
    throw new ProvisionError("CONFIG", `cannot read the fixture map: ${(e as Error).message}`, {
      where: file,
      hint: 'a JSON object: {"A1": "1-1.1", "A2": "1-1.2"}',
    });
  }
  return parseFixture(data, file);
}

/** Which fixture slot a USB location belongs to: exact, or the interface of a listed device ("1-1.3" owns "1-1.3:1.0"). */
export function slotForLocation(fixture: FixtureMap, usbLocation: string | undefined): string | undefined {
  if (usbLocation === undefined) return undefined;
  const device = usbLocation.split(":")[0];
  let fallback: string | undefined;
  for (const [slot, location] of Object.entries(fixture)) {
    if (location === usbLocation) return slot;
    if (location === device) fallback = slot;
  }
  return fallback;
}

export interface WatchOptions {
  intervalMs?: number;
  fixture?: FixtureMap;
  /** Default: listPorts with the boards' USB ids. Tests pass their own list. */
  list?: () => Promise<PortDescription[]>;
  /** Told once per port the watcher will not use (not a known board, not in the fixture). */
  onIgnored?: (port: PortDescription, reason: string) => void;
}

/**
 * Polls the port list. Without a fixture, a port is taken when its USB ids
 * match a board file; with one, when its USB location is a fixture slot.
 */
export function watchPorts(options: WatchOptions = {}): PortSource {
  const intervalMs = options.intervalMs ?? WATCH_INTERVAL_MS_DEFAULT;
  const list = options.list ?? (() => listPorts({ guessBoard: (vid, pid) => guessBoardByUsb(vid, pid) }));
  return async function* (signal) {
    const present = new Map<string, { slot: string; port: string }>();
    const ignored = new Set<string>();
    while (!signal.aborted) {
      let ports: PortDescription[] = [];
      try {
        ports = await list();
      } catch (e) {
        options.onIgnored?.(
          { path: "(port list)", boardCandidates: [], source: "sysfs" },
          `listing ports failed: ${(e as Error).message}`,
        );
      }
      const seenNow = new Set<string>();
      for (const p of ports) {
        let slot: string | undefined;
        if (options.fixture) {
          slot = slotForLocation(options.fixture, p.usbLocation);
          if (slot === undefined && !ignored.has(p.path)) {
            ignored.add(p.path);
            options.onIgnored?.(p, `USB location ${p.usbLocation ?? "unknown"} is not in the fixture map`);
          }
        } else if (p.boardCandidates.length > 0) {
          slot = p.usbLocation ?? p.path;
        } else if (!ignored.has(p.path)) {
          ignored.add(p.path);
          options.onIgnored?.(p, `USB ${p.vid ?? "?"}:${p.pid ?? "?"} matches no board file`);
        }
        if (slot === undefined) continue;
        const key = `${slot}\u0000${p.path}`;
        seenNow.add(key);
        if (!present.has(key)) {
          present.set(key, { slot, port: p.path });
          const event: PortEvent = { kind: "arrive", slot, port: p.path };
          if (p.usbLocation !== undefined) event.usbLocation = p.usbLocation;
          if (p.boardGuess !== undefined) event.boardGuess = p.boardGuess;
          yield event;
        }
      }
      for (const [key, v] of [...present]) {
        if (!seenNow.has(key)) {
          present.delete(key);
          yield { kind: "depart", slot: v.slot, port: v.port };
        }
      }
      for (const path of [...ignored]) if (!ports.some((p) => p.path === path)) ignored.delete(path);
      await sleepUnlessAborted(intervalMs, signal);
    }
  };
}

function sleepUnlessAborted(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((done) => {
    const timer = setTimeout(finish, ms);
    function finish() {
      clearTimeout(timer);
      signal.removeEventListener("abort", finish);
      done();
    }
    signal.addEventListener("abort", finish, { once: true });
  });
}
