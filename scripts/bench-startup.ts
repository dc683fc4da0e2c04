/**
 * How fast the CLI starts, as ratios to a bare `node -e 0` measured in the
 * same run on the same machine (medians; docs/performance.md):
 *
 * - `provision --version` and `provision --help`: spawn to exit, target 1.5x;
 * - `provision --port P`: spawn to the first byte on the port, target 2.5x.
 *   P is a pseudo-terminal made by socat, which copies what the tool writes
 *   to its stdout: its first chunk there is the first byte on the port (the
 *   HELLO frame). No device answers, so each such run is killed then.
 *
 * The rounds interleave the four commands, so a change in the machine's load
 * hits them alike. Runs the built CLI (bin/provision.js -> dist/) under the
 * Node that runs this script, or --node PATH.
 *
 *   npm run bench:startup [-- --rounds 21] [-- --node build/node-24/bin/node] [-- --json]
 *
 * Exits 1 when a ratio is over its target.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";

const { values } = parseArgs({
  options: {
    rounds: { type: "string", default: "21" },
    node: { type: "string", default: process.execPath },
    json: { type: "boolean", default: false },
  },
});
const ROUNDS = Number(values.rounds);
const NODE = resolve(values.node as string);
const BIN = resolve(import.meta.dirname, "..", "bin", "provision.js");

interface Case {
  name: string;
  /** Upper bound of the ratio to the bare start; none for the baseline. */
  target?: number;
  run: (warmUp?: boolean) => Promise<number>;
}

const work = mkdtempSync(join(tmpdir(), "provision-bench-startup-"));
// A user's clean environment: no config file in the folder, no AWS settings.
const env = { PATH: process.env.PATH, HOME: work };

function exited(child: ChildProcess): Promise<void> {
  return new Promise((done, fail) => {
    child.once("error", fail);
    child.once("exit", () => done());
  });
}

/** Milliseconds from spawn to exit; the command must succeed. */
async function timeToExit(args: string[]): Promise<number> {
  const started = performance.now();
  const child = spawn(NODE, args, { cwd: work, env, stdio: ["ignore", "ignore", "ignore"] });
  await exited(child);
  const ms = performance.now() - started;
  if (child.exitCode !== 0) throw new Error(`${args.join(" ")} exited ${child.exitCode}`);
  return ms;
}

/** A pty from socat, its output on socat's stdout; resolves once the pty's link exists. */
async function ptyWithTap(): Promise<{ port: string; socat: ChildProcess }> {
  const port = join(work, `tty-${process.hrtime.bigint()}`);
  const socat = spawn("socat", ["-u", `PTY,link=${port},rawer`, "STDOUT"], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  socat.once("error", (e) => {
    throw new Error(`socat: ${e.message} (apt-get install socat)`);
  });
  while (!existsSync(port)) await new Promise((r) => setTimeout(r, 2));
  return { port, socat };
}

/**
 * Milliseconds from spawning `provision --port P` to the first byte it writes on P. The timed runs are
 * killed there (SIGKILL); a warm-up run is interrupted instead (SIGINT) and left to exit, because Node
 * writes its compile cache at exit: a process that is always killed never caches the modules only
 * `--port` loads, and each timed run would compile them again, as no user's second run does.
 */
async function timeToFirstByte(warmUp = false): Promise<number> {
  const { port, socat } = await ptyWithTap();
  const firstByte = new Promise<number>((done) => socat.stdout?.once("data", () => done(performance.now())));
  const started = performance.now();
  const child = spawn(NODE, [BIN, "--port", port], { cwd: work, env, stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr?.on("data", (d) => {
    stderr += d;
  });
  const ended = exited(child).then(() => {
    throw new Error(`provision --port exited ${child.exitCode} before writing to the port:\n${stderr}`);
  });
  try {
    return (await Promise.race([firstByte, ended])) - started;
  } finally {
    const childExited = child.exitCode === null && child.signalCode === null ? exited(child) : undefined;
    child.kill(warmUp ? "SIGINT" : "SIGKILL");
    await childExited?.catch(() => undefined);
    socat.kill();
    await exited(socat).catch(() => undefined);
  }
}

const CASES: Case[] = [
  { name: "node -e 0", run: () => timeToExit(["-e", "0"]) },
  { name: "provision --version", target: 1.5, run: () => timeToExit([BIN, "--version"]) },
  { name: "provision --help", target: 1.5, run: () => timeToExit([BIN, "--help"]) },
  { name: "provision --port P (to first byte)", target: 2.5, run: timeToFirstByte },
];

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2
    ? (s[(s.length - 1) / 2] as number)
    : ((s[s.length / 2 - 1] as number) + (s[s.length / 2] as number)) / 2;
};

async function main() {
  const nodeVersion = spawnSync(NODE, ["--version"], { encoding: "utf8" }).stdout.trim();
  const loadBefore = loadavg()[0] as number;
  // Warm-up: the OS file cache and Node's compile cache (bin/provision.js enables it) as a user's second run finds them.
  for (const c of CASES) await c.run(true);
  const samples = new Map<string, number[]>(CASES.map((c) => [c.name, []]));
  for (let round = 0; round < ROUNDS; round++) {
    // Rotate the order so no command always runs first after a pause.
    for (let i = 0; i < CASES.length; i++) {
      const c = CASES[(round + i) % CASES.length] as Case;
      samples.get(c.name)?.push(await c.run());
    }
  }
  const base = median(samples.get("node -e 0") ?? []);
  const rows = CASES.map((c) => {
    const ms = median(samples.get(c.name) ?? []);
    const ratio = ms / base;
    return {
      name: c.name,
      medianMs: Number(ms.toFixed(1)),
      ratio: Number(ratio.toFixed(2)),
      target: c.target,
    };
  });
  const machine = {
    cpu: cpus()[0]?.model ?? "unknown",
    cores: cpus().length,
    node: nodeVersion,
    rounds: ROUNDS,
    load1mBefore: Number(loadBefore.toFixed(2)),
    load1mAfter: Number((loadavg()[0] as number).toFixed(2)),
  };
  const over = rows.filter((r) => r.target !== undefined && r.ratio > r.target);
  if (values.json) {
    console.log(JSON.stringify({ machine, rows }));
  } else {
    console.log(
      `Node ${machine.node} on ${machine.cpu} (${machine.cores} cores), ${ROUNDS} rounds, load ${machine.load1mBefore} -> ${machine.load1mAfter}`,
    );
    for (const r of rows) {
      const verdict =
        r.target === undefined ? "" : `  (target <= ${r.target}x: ${r.ratio <= r.target ? "ok" : "OVER"})`;
      console.log(
        `${r.name.padEnd(36)} ${r.medianMs.toFixed(1).padStart(7)} ms  ${r.ratio.toFixed(2)}x${verdict}`,
      );
    }
  }
  rmSync(work, { recursive: true, force: true });
  process.exitCode = over.length > 0 ? 1 : 0;
}

await main();
