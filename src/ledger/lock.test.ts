import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { hostname, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { lockLedger } from "./lock.js";

let dir: string;
const children: ChildProcess[] = [];
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "ledger-lock-"));
});
afterAll(async () => {
  for (const c of children) c.kill("SIGKILL");
  await rm(dir, { recursive: true, force: true });
});

/** Another process that takes the ledger's lock, says "held", and releases it on "release\n". */
async function holder(file: string): Promise<{ child: ChildProcess; pid: number }> {
  const lock = resolve("src/ledger/lock.ts");
  const code = `
    const { lockLedger } = await import(${JSON.stringify(lock)});
    const l = await lockLedger(${JSON.stringify(file)}, { waitMs: 0 });
    console.log("held");
    process.stdin.once("data", async () => { await l.release(); console.log("released"); process.exit(0); });`;
  const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", code], {
    stdio: ["pipe", "pipe", "inherit"],
  });
  children.push(child);
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  await new Promise<void>((res, rej) => {
    lines.once("line", (l) => (l === "held" ? res() : rej(new Error(l))));
    child.once("exit", (c) => rej(new Error(`holder exited ${c}`)));
  });
  return { child, pid: child.pid as number };
}

describe("one writer per ledger", () => {
  it("a second process refuses at once (wait 0), naming the holder: pid, host, command", async () => {
    const file = join(dir, "a.jsonl");
    const h = await holder(file);
    const err = await lockLedger(file, { waitMs: 0 }).catch((e) => e);
    expect(err).toMatchObject({ code: "CONFIG", where: `${file}.lock` });
    expect(err.message).toContain(`ledger ${file} is in use by pid ${h.pid} on ${hostname()} (provision`);
    expect(err.details.ledgerHolder).toMatchObject({ pid: h.pid, host: hostname() });
    expect(err.hint).toMatch(/wait for it to finish .*--ledger-wait.*own --ledger/);
    h.child.kill("SIGKILL");
  });

  it("waits for a live holder, says so once naming it, and takes the lock when the holder releases it", async () => {
    const file = join(dir, "b.jsonl");
    const h = await holder(file);
    const told: string[] = [];
    const taken = lockLedger(file, {
      waitMs: 60_000,
      onWait: (text) => {
        told.push(text);
        h.child.stdin?.write("release\n");
      },
    });
    const lock = await taken;
    expect(told).toHaveLength(1);
    expect(told[0]).toMatch(new RegExp(`in use by pid ${h.pid} on .*: waiting up to 60 s for it`));
    expect(JSON.parse(await readFile(`${file}.lock`, "utf8")).pid).toBe(process.pid);
    await lock.release();
    expect(existsSync(`${file}.lock`)).toBe(false);
  });

  it("the lock of a process that is gone (SIGKILL) is taken over at once", async () => {
    const file = join(dir, "c.jsonl");
    const h = await holder(file);
    const gone = new Promise((r) => h.child.once("exit", r));
    h.child.kill("SIGKILL");
    await gone;
    const lock = await lockLedger(file, { waitMs: 0 });
    expect(JSON.parse(await readFile(`${file}.lock`, "utf8")).pid).toBe(process.pid);
    await lock.release();
  });

  it("a pid now used by another process (its start time differs) is not the holder", async () => {
    const file = join(dir, "d.jsonl");
    const stale = {
      pid: process.ppid,
      host: hostname(),
      command: "provision",
      startedAt: "x",
      pidStart: "1",
    };
    await writeFile(`${file}.lock`, JSON.stringify(stale));
    const lock = await lockLedger(file, { waitMs: 0 });
    await lock.release();
  });

  it("a holder on another host cannot be judged from here: refused, with how to free it", async () => {
    const file = join(dir, "e.jsonl");
    const other = {
      pid: 1,
      host: "station-7",
      command: "provision station",
      startedAt: "2026-01-01T00:00:00Z",
    };
    await writeFile(`${file}.lock`, JSON.stringify(other));
    const err = await lockLedger(file, { waitMs: 0 }).catch((e) => e);
    expect(err.message).toContain("in use by pid 1 on station-7 (provision station)");
    expect(err.hint).toContain(`if that process on station-7 is gone, remove ${file}.lock`);
  });

  it("one process shares its lock (a station's pipelines, its start-up cleanup) until the last user releases it", async () => {
    const file = join(dir, "f.jsonl");
    const a = await lockLedger(file, { waitMs: 0 });
    const b = await lockLedger(file, { waitMs: 0 });
    await a.release();
    expect(existsSync(`${file}.lock`)).toBe(true);
    await b.release();
    expect(existsSync(`${file}.lock`)).toBe(false);
  });
});
