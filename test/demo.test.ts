/**
 * The README's main-job command, run as a user runs it: the real binary,
 * a fresh state dir, no hardware, no AWS account. It must end with the
 * twin's first {"counter": 0} seen on the cloud side, exit 0, in under 30 s.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

const dir = mkdtempSync(join(tmpdir(), "provision-demo-test-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("provision demo", () => {
  it('provisions a twin against the local AWS IoT and sees {"counter": 0}, exit 0, under 30 s', async () => {
    const started = Date.now();
    const { status, stdout, stderr } = await new Promise<{
      status: number | null;
      stdout: string;
      stderr: string;
    }>((res) => {
      const child = spawn(process.execPath, [
        resolve("bin/provision.js"),
        "demo",
        "--json",
        "--state-dir",
        dir,
      ]);
      let stdout = "";
      let stderr = "";
      child.stdout.on("data", (d) => {
        stdout += d;
      });
      child.stderr.on("data", (d) => {
        stderr += d;
      });
      child.on("close", (code) => res({ status: code, stdout, stderr }));
    });
    const elapsedMs = Date.now() - started;
    expect(status, stderr).toBe(0);
    expect(elapsedMs).toBeLessThan(30_000);
    const result = JSON.parse(stdout);
    expect(result.ok).toBe(true);
    expect(result.mode).toBe("provisioned");
    expect(JSON.parse(result.firstMessage.payload)).toEqual({ counter: 0 });
    expect(result.certificateId).toMatch(/^[0-9a-f]{64}$/);
    for (const step of ["hello", "key", "csr", "register", "credentials", "firstPublish"]) {
      expect(result.timingsMs[step], step).toBeGreaterThanOrEqual(0);
    }
    // Live progress went to stderr, step by step.
    expect(stderr).toMatch(/✔ register twin-[0-9a-f]{12}/);
    // The audit ledger recorded the run through to the first publish.
    const events = readFileSync(join(dir, "ledger.jsonl"), "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l).event);
    expect(events).toContain("committed");
    expect(events.at(-1)).toBe("first-publish");
  }, 60_000);
});
