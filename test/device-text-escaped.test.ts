/**
 * A wrong or hostile device on the port: its log lines try to retitle the
 * terminal, clear it, move the cursor and forge a "✔ provisioned" line, with
 * 7-bit and 8-bit escapes and binary garbage. None of it may act on the
 * terminal: in the error report, with --verbose, and in --json, control
 * characters are shown escaped and garbage is summarised.
 */
import type { ChildProcess } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { terminalControls } from "../src/printable.js";
import { runCli } from "./cli.test-helper.js";
import { startPtyProgram } from "./pty-program.test-helper.js";

let dir: string;
let device: ChildProcess;
let port: string;

/** What the device prints, over and over, and never a protocol frame. */
const HOSTILE = [
  "b'\\x1b]0;pwned\\x07I (10) app: title changed'",
  "b'\\x1b[2J\\x1b[H\\x1b[31mI (11) app: screen cleared'",
  "b'\\r\\xe2\\x9c\\x94 provisioned forged-thing (device 000000000000) in 1 ms'",
  "b'\\xc2\\x9b2J 8-bit CSI and \\xe2\\x80\\xae reversed'",
  "bytes(range(0, 40)) + bytes([0xff, 0xfe] * 20)",
];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "hostile-device-"));
  ({ child: device, port } = await startPtyProgram(
    [
      "import os, pty, time",
      "m, s = pty.openpty()",
      "print(os.ttyname(s), flush=True)",
      `lines = [${HOSTILE.join(", ")}]`,
      "i = 0",
      "while True:",
      "    os.write(m, lines[i % len(lines)] + b'\\r\\n')",
      "    i += 1",
      "    time.sleep(0.02)",
    ].join("\n"),
  ));
}, 30_000);

afterAll(async () => {
  device?.kill("SIGKILL");
  await rm(dir, { recursive: true, force: true });
});

const args = () => [
  "--port",
  port,
  "--local",
  "--local-state-dir",
  join(dir, "iot"),
  "--local-ports",
  "0,0,0",
];

describe("text from the device never acts on the terminal", () => {
  it("the failure report shows the device's last lines escaped, garbage summarised", async () => {
    const r = await runCli([...args(), "--ledger", "l.jsonl"], { cwd: dir });
    expect([14, 15]).toContain(r.status);
    expect(r.stderr).toMatch(/last device log lines/);
    expect(terminalControls(r.stderr)).toEqual([]);
    expect(r.stderr).toContain("\\x1b]0;pwned\\x07I (10) app: title changed");
    expect(r.stderr).toContain("\\x1b[2J\\x1b[H");
    expect(r.stderr).toContain("\\r✔ provisioned forged-thing");
    expect(r.stderr).toContain("\\x9b2J 8-bit CSI and \\u202e reversed");
    expect(r.stderr).toMatch(/\[unreadable data, \d+ characters: /);
    // The forged line never starts a line of its own.
    expect(r.stderr.split("\n").some((l) => l.startsWith("✔ provisioned forged-thing"))).toBe(false);
  }, 60_000);

  it("--verbose shows every device line escaped as it arrives", async () => {
    const r = await runCli([...args(), "--ledger", "l.jsonl", "--verbose"], { cwd: dir });
    expect([14, 15]).toContain(r.status);
    const deviceLines = r.stderr.split("\n").filter((l) => l.startsWith("[device] "));
    expect(deviceLines.length).toBeGreaterThan(5);
    expect(terminalControls(r.stderr)).toEqual([]);
    expect(deviceLines.join("\n")).toContain("\\x1b]0;pwned");
  }, 60_000);

  it("--json: the error's deviceLog holds the lines escaped, and stdout has no raw control character", async () => {
    const r = await runCli([...args(), "--ledger", "l.jsonl", "--json"], { cwd: dir });
    expect([14, 15]).toContain(r.status);
    expect(terminalControls(r.stdout)).toEqual([]);
    const out = JSON.parse(r.stdout) as { ok: boolean; error: { deviceLog: string[] } };
    expect(out.ok).toBe(false);
    expect(out.error.deviceLog.length).toBeGreaterThan(0);
    for (const line of out.error.deviceLog) expect(terminalControls(line)).toEqual([]);
    expect(out.error.deviceLog.join("\n")).toContain("\\x1b]0;pwned\\x07");
  }, 60_000);
});
