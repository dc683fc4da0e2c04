/**
 * The second round of hostile input (issue #21), each refused before a
 * device or the cloud is touched, with the flag and the limit named: the
 * real binary spawned, its exit status, stdout and stderr compared.
 */
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "./cli.test-helper.js";

let dir: string;

const cli = (args: string[], env: NodeJS.ProcessEnv = {}) => runCli(args, { cwd: dir, env });

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "provision-hostile-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("the ledger and the manifest are never one file", () => {
  it("the README's old station example (--ledger line3.jsonl --manifest line3) now writes two files apart", async () => {
    // Past the check, this run stops at the next one it meets: no AWS region here.
    const r = await cli([
      "station",
      "/dev/nonexistent-port",
      "--ledger",
      "line3.jsonl",
      "--manifest",
      "line3",
    ]);
    expect(r.stderr).not.toMatch(/would be the manifest/);
    expect(r.stderr).toMatch(/no AWS region configured/);
  });

  it("a ledger that is the manifest's JSONL or CSV: exit 2 naming both, before any port is opened", async () => {
    for (const ledger of ["line3.manifest.jsonl", "./line3.manifest.csv"]) {
      const r = await cli(["station", "/dev/nonexistent-port", "--ledger", ledger, "--manifest", "line3"]);
      expect(r.status, r.stderr).toBe(2);
      expect(r.stderr).toMatch(/the ledger .*line3\.manifest\.(jsonl|csv) would be the manifest's/);
      expect(r.stderr).toMatch(/give --ledger its own file \(e\.g\. line3-ledger\.jsonl\)/);
      expect(r.stderr).not.toMatch(/nonexistent-port/);
      expect(existsSync(join(dir, ledger))).toBe(false);
    }
  });
});
