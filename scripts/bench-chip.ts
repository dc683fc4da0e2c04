/**
 * The emulated chip's figures for docs/performance.md, in one run:
 *
 *   - image build time, clean (`--clean`: the cached build folder removed
 *     first) and cached (the input stamp holds);
 *   - boot to HELLO: QEMU started on a fresh flash until the app's console
 *     answers, `--boots N` times;
 *   - the full provisioning to `committed` (`provision --until committed
 *     --local`, the real CLI), `--runs N` times, P-256.
 *
 *   npm run bench:chip -- [--idf 5.5.5] [--clean] [--boots 5] [--runs 5]
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { startEmulatedChip } from "../src/emulator/emulated-chip.js";
import { ensureChipImageBuilt } from "../src/firmware/chip-image.js";
import { PACKAGE_ROOT as REPO_ROOT } from "../src/package-root.js";

const BOARD = "esp32-c3-devkitm-1";
const CLI = join(REPO_ROOT, "bin", "provision.js");

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0
    ? Number.NaN
    : s.length % 2
      ? (s[(s.length - 1) / 2] ?? 0)
      : ((s[s.length / 2 - 1] ?? 0) + (s[s.length / 2] ?? 0)) / 2;
};
const range = (xs: number[]) =>
  `median ${median(xs).toFixed(0)} ms (min ${Math.min(...xs)}, max ${Math.max(...xs)}, n=${xs.length})`;

function cli(args: string[], cwd: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (b: Buffer) => {
      stdout += b;
    });
    child.stderr.on("data", (b: Buffer) => {
      stderr += b;
    });
    child.on("close", (code) => done({ code, stdout, stderr }));
  });
}

async function main() {
  const { values } = parseArgs({
    options: {
      idf: { type: "string", default: "5.5.5" },
      clean: { type: "boolean", default: false },
      boots: { type: "string", default: "5" },
      runs: { type: "string", default: "5" },
    },
  });
  const kitVersion = values.idf;
  const load = loadavg().map((l) => l.toFixed(2));
  process.stdout.write(
    `machine: ${cpus().length} x ${cpus()[0]?.model ?? "cpu"}; load average at start ${load.join(" ")}; ESP-IDF kit v${kitVersion}, ${BOARD}, key store nvs\n`,
  );
  if (values.clean) {
    const first = await ensureChipImageBuilt({ board: BOARD, keyStore: "nvs", kitVersion });
    rmSync(join(first.buildDir, ".."), { recursive: true, force: true });
  }
  const built = await ensureChipImageBuilt({ board: BOARD, keyStore: "nvs", kitVersion });
  process.stdout.write(
    `image build (${built.built ? "clean" : "cached: give --clean for a clean one"}): ${built.ms} ms\n`,
  );
  const cached = await ensureChipImageBuilt({ board: BOARD, keyStore: "nvs", kitVersion });
  process.stdout.write(`image build (cached): ${cached.ms} ms\n`);

  const work = mkdtempSync(join(tmpdir(), "bench-chip-"));
  try {
    const boots: number[] = [];
    for (let i = 0; i < Number(values.boots); i++) {
      const chip = await startEmulatedChip({ stateDir: join(work, `boot-${i}`), image: built });
      boots.push(chip.bootMs ?? Number.NaN);
      await chip.stop();
    }
    process.stdout.write(`boot to HELLO (QEMU start to the app's first answer): ${range(boots)}\n`);

    const runs: number[] = [];
    const walls: number[] = [];
    for (let i = 0; i < Number(values.runs); i++) {
      const chip = await startEmulatedChip({ stateDir: join(work, `run-${i}`), image: built });
      try {
        const t0 = Date.now();
        const r = await cli(
          [
            "--port",
            chip.port,
            "--no-reset",
            "--key-store",
            "nvs",
            "--local",
            "--local-ports",
            "0,0,0",
            "--local-state-dir",
            join(work, "iot"),
            "--ledger",
            join(work, "ledger.jsonl"),
            "--until",
            "committed",
            "--json",
          ],
          work,
        );
        walls.push(Date.now() - t0);
        const out = JSON.parse(r.stdout) as { ok: boolean; timingsMs: Record<string, number> };
        if (!out.ok) throw new Error(r.stderr);
        runs.push(Object.values(out.timingsMs).reduce((a, b) => a + b, 0));
      } finally {
        await chip.stop();
      }
    }
    process.stdout.write(
      `provisioning to committed (sum of the steps, HELLO to the STATUS after restart): ${range(runs)}\n`,
    );
    process.stdout.write(
      `the same, whole process (start of the CLI to its exit, local AWS IoT started inside): ${range(walls)}\n`,
    );
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  process.stdout.write(
    `load average at end ${loadavg()
      .map((l) => l.toFixed(2))
      .join(" ")}\n`,
  );
}

main().catch((e: unknown) => {
  process.stderr.write(`${(e as Error).stack ?? e}\n`);
  process.exit(1);
});
