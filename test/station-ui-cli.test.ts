/**
 * `--ui` and `station-view` flags are checked before the station opens the
 * cloud, the ledger or a port: a wrong one is exit 2 naming it, and nothing
 * was written.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { runCli } from "./cli.test-helper.js";

const dir = mkdtempSync(join(tmpdir(), "station-ui-cli-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const station = (...flags: string[]) =>
  runCli(["station", "/dev/null", "--local", "--ledger", "l.jsonl", ...flags], {
    cwd: dir,
    timeoutMs: 30_000,
  });

describe("the view's flags, before anything is opened", () => {
  it("--ui that is no [HOST:]PORT: exit 2 naming it", async () => {
    const r = await station("--ui", "localhost:http");
    expect(r.status, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/--ui localhost:http: expected \[HOST:\]PORT/);
    expect(existsSync(join(dir, "l.jsonl"))).toBe(false);
  });

  it("--ui-token-file without --ui, or with a short token: exit 2", async () => {
    writeFileSync(join(dir, "short"), "abc\n");
    const alone = await station("--ui-token-file", "short");
    expect(alone.status, alone.stderr).toBe(2);
    expect(alone.stderr).toMatch(/--ui-token-file goes with --ui/);
    const short = await station("--ui", "0", "--ui-token-file", "short");
    expect(short.status, short.stderr).toBe(2);
    expect(short.stderr).toMatch(/at least 16 characters/);
    expect(existsSync(join(dir, "l.jsonl"))).toBe(false);
  });

  it("station-view: a URL that is not a station's http:// one is exit 2", async () => {
    const r = await runCli(["station-view", "https://station-a:8080/"], { cwd: dir, timeoutMs: 30_000 });
    expect(r.status, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/a station serves its view over http:\/\//);
  });
});
