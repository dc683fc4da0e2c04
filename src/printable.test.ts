import { describe, expect, it } from "vitest";
import { deviceLogLine, printable, safeJson, terminalControls } from "./printable.js";

const clean = (text: string) => expect(terminalControls(text.replace(/\n/g, " "))).toEqual([]);

describe("printable", () => {
  it("shows an OSC title change, cursor moves and a forged carriage return escaped", () => {
    const hostile = "\x1b]0;owned\x07\x1b[2J\x1b[H\r✔ provisioned thing-1";
    const out = printable(hostile);
    clean(out);
    expect(out).toBe("\\x1b]0;owned\\x07\\x1b[2J\\x1b[H\\r✔ provisioned thing-1");
  });

  it("terminalControls finds what a terminal acts on, and nothing in plain text", () => {
    expect(terminalControls("\x1b[2J a\u009b b\u202e c\r")).toEqual(["\x1b", "\u009b", "\u202e", "\r"]);
    expect(terminalControls("I (1) app: ok\tµ✔\n")).toEqual([]);
  });

  it("escapes 8-bit CSI, DEL and bidi overrides; keeps tabs and ordinary Unicode", () => {
    expect(printable("a\u009b31mb\u007fc\u202ed")).toBe("a\\x9b31mb\\x7fc\\u202ed");
    expect(printable("I (12) app: ok\tµ✔")).toBe("I (12) app: ok\tµ✔");
  });

  it("escapes invisible format characters (zero-width space and joiner, BOM, soft hyphen, tag characters)", () => {
    // "thing\u200b-1" looks like "thing-1" on a terminal: shown escaped, the two can be told apart.
    expect(printable("thing\u200b-1")).toBe("thing\\u200b-1");
    expect(printable("a\u200db\ufeffc\u00add\u2060e")).toBe("a\\u200db\\ufeffc\\xadd\\u2060e");
    expect(printable("x\u{e0041}y")).toBe("x\\u{e0041}y");
    expect(terminalControls("a\u200bb")).toEqual(["\u200b"]);
  });

  it("is idempotent: escaped text stays as it is", () => {
    const once = printable("\x1b[31mred\n");
    expect(printable(once)).toBe(once);
  });
});

describe("deviceLogLine", () => {
  it("summarises binary garbage instead of printing it", () => {
    const garbage = Buffer.from([
      0, 1, 2, 0xff, 0xfe, 0x1b, 5, 6, 7, 8, 9, 0x10, 0x11, 0x12, 0, 0, 0, 0, 0, 0, 0,
    ]).toString("utf8");
    const out = deviceLogLine(garbage);
    expect(out).toMatch(/^\[unreadable data, \d+ characters: /);
    clean(out);
  });

  it("passes an ordinary ESP-IDF log line through, without its colours", () => {
    expect(deviceLogLine("I (1234) wifi: connected")).toBe("I (1234) wifi: connected");
    expect(deviceLogLine("\x1b[0;32mI (29) boot: ESP-IDF v5.2.1\x1b[0m")).toBe("I (29) boot: ESP-IDF v5.2.1");
  });

  it("other escape sequences in a log line stay visible, escaped", () => {
    expect(deviceLogLine("\x1b]0;title\x07I (1) x")).toBe("\\x1b]0;title\\x07I (1) x");
  });
});

describe("safeJson", () => {
  it("leaves no raw control, C1 or bidi character in the JSON text, and parses back to the same value", () => {
    const value = { log: ["\x1b]0;t\x07", "a\u009bb", "\u202e", "\u2028", "z\u200bw", "t\u{e0041}"], n: 1 };
    const text = safeJson(value);
    clean(text);
    expect(JSON.parse(text)).toEqual(value);
  });
});
