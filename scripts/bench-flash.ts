/**
 * Flashing speed of `provision flash` beside the kit's Python esptool 4.12,
 * on the same image and the same emulated ESP32-C3 (a blank board each run,
 * the ROM loader: `--no-stub`, the stub does not run in this emulator), in
 * one run, alternating. esptool runs twice per round: as a user would call
 * it (`--no-stub` makes it write uncompressed) and with `-z` (compressed, as
 * `provision flash` writes). The ratio that matters is provision flash's
 * time over esptool's.
 *
 *   npm run bench:flash -- [--rounds 2] [--idf 5.5.5] [--baud 921600]
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { startEmulatedChip } from "../src/emulator/emulated-chip.js";
import { ensureChipImageBuilt } from "../src/firmware/chip-image.js";
import { ensureKit } from "../src/firmware/idf.js";
import { PACKAGE_ROOT as REPO_ROOT } from "../src/package-root.js";

const BOARD = "esp32-c3-devkitm-1";

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env) {
  return new Promise<{ code: number | null; out: string; ms: number }>((done) => {
    const t0 = Date.now();
    const child = spawn(cmd, args, { env });
    let out = "";
    child.stdout.on("data", (b: Buffer) => {
      out += b;
    });
    child.stderr.on("data", (b: Buffer) => {
      out += b;
    });
    child.on("close", (code) => done({ code, out, ms: Date.now() - t0 }));
  });
}

async function main() {
  const { values } = parseArgs({
    options: {
      rounds: { type: "string", default: "2" },
      idf: { type: "string", default: "5.5.5" },
      baud: { type: "string", default: "921600" },
    },
  });
  const image = await ensureChipImageBuilt({ board: BOARD, keyStore: "nvs", kitVersion: values.idf });
  const esptoolKit = await ensureKit("5.5.5");
  const pyEnv = { ...process.env, PYTHONPATH: join(esptoolKit, "python", "esptool") };
  const files = image.images.flatMap((i) => [`0x${i.offset.toString(16)}`, i.file]);
  const imageBytes = image.images.reduce((n, i) => n + i.size, 0);
  const work = mkdtempSync(join(tmpdir(), "bench-flash-"));
  process.stdout.write(
    `machine: ${cpus().length} x ${cpus()[0]?.model ?? "cpu"}; load average ${loadavg()
      .map((l) => l.toFixed(2))
      .join(" ")}; ` +
      `image ${BOARD} (ESP-IDF v${values.idf}, ${imageBytes} bytes in ${image.images.length} regions), ${values.baud} baud, ROM loader\n`,
  );
  /** The kit's Python esptool writing the same files through the ROM loader, as a user calls it. */
  const esptool = (port: string, writeFlags: string[]) =>
    run(
      "/usr/bin/python3",
      [
        ...["-m", "esptool", "--chip", "esp32c3", "-p", port, "-b", values.baud],
        ...["--before", "default_reset", "--after", "hard_reset", "--no-stub"],
        ...["write_flash", ...writeFlags, ...files],
      ],
      pyEnv,
    );
  const rows: { tool: string; ms: number }[] = [];
  try {
    for (let round = 0; round < Number(values.rounds); round++) {
      const tools: [string, (port: string) => Promise<{ code: number | null; out: string; ms: number }>][] = [
        [
          "provision flash",
          (port) =>
            run(process.execPath, [
              join(REPO_ROOT, "bin", "provision.js"),
              "flash",
              "--port",
              port,
              "--image",
              image.buildDir,
              "--no-stub",
              "--flash-baud",
              values.baud,
              "--json",
            ]),
        ],
        ["esptool --no-stub (uncompressed, its default without the stub)", (port) => esptool(port, [])],
        ["esptool --no-stub -z (compressed, as provision flash)", (port) => esptool(port, ["-z"])],
      ];
      for (const [tool, flash] of tools) {
        const chip = await startEmulatedChip({
          stateDir: join(work, `${round}-${rows.length}`),
          blank: true,
          uart: "rfc2217",
          waitForApp: false,
        });
        try {
          const r = await flash(chip.port);
          if (r.code !== 0) throw new Error(`${tool} failed:\n${r.out.slice(-2000)}`);
          rows.push({ tool, ms: r.ms });
          process.stdout.write(
            `round ${round + 1}: ${tool}: ${(r.ms / 1000).toFixed(1)} s, ${Math.round((imageBytes * 1000) / r.ms)} image bytes/s\n`,
          );
        } finally {
          await chip.stop();
        }
      }
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  const median = (tool: string) => {
    const xs = rows
      .filter((r) => r.tool === tool)
      .map((r) => r.ms)
      .sort((a, b) => a - b);
    return xs[Math.floor((xs.length - 1) / 2)] ?? Number.NaN;
  };
  const ours = median("provision flash");
  process.stdout.write("\nmedians (whole command: connect, write, verify, reset):\n");
  for (const tool of [...new Set(rows.map((r) => r.tool))]) {
    const ms = median(tool);
    process.stdout.write(
      `  ${tool}: ${(ms / 1000).toFixed(1)} s, ${Math.round((imageBytes * 1000) / ms)} B/s; provision flash / this = ${(ours / ms).toFixed(2)}\n`,
    );
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
