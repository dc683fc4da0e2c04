/**
 * The chip image on the emulated chip, for every board the emulator models
 * (esp32-c3-devkitm-1), every key store it lists, on every ESP-IDF kit:
 *
 *   build the whole image (bootloader, partition table, app; linked) ->
 *   boot it on the emulated ESP32-C3 (QEMU, the chip's ROM) -> provision
 *   it with the real CLI against a local AWS IoT, `--until committed`
 *   (the emulated chip has no network) -> one result line.
 *
 * What each key store can show here is fixed by what the emulator models
 * (its kit's README): `nvs` runs end to end; the HMAC-based `nvs-encrypted`
 * needs the HMAC peripheral and `ds` the DS peripheral, which it lacks, so
 * those are link checks, and the line says what the emulated chip did.
 * A key store whose outcome differs from the expected one fails the check
 * either way (a new emulator that models HMAC should be noticed).
 *
 *   npx tsx scripts/chip-check.ts [--kit 5.5.5]... [--key-store nvs]... [--report FILE]
 */
import { spawn } from "node:child_process";
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { getBoard, type KeyStoreKind } from "../src/boards/index.js";
import { startEmulatedChip } from "../src/emulator/emulated-chip.js";
import { asProvisionError, ProvisionError } from "../src/errors.js";
import { type ChipImage, ensureChipImageBuilt } from "../src/firmware/chip-image.js";
import { availableKits } from "../src/firmware/idf.js";
import { PACKAGE_ROOT as REPO_ROOT } from "../src/package-root.js";

const BOARD = "esp32-c3-devkitm-1";
const CLI = join(REPO_ROOT, "bin", "provision.js");
/** RSA on the emulated chip takes tens of seconds; the rest a few. */
const PROVISION_TIMEOUT_MS = 600_000;

type Outcome = "committed" | "boot-loop" | "csr-rejected" | "signing-refused" | "other";

/** What the emulated chip can do with each key store, and why (esp32c3-qemu-kit README). */
const EXPECTED: Record<string, { outcomes: Outcome[]; why: string; keyType: string }> = {
  nvs: { outcomes: ["committed"], why: "", keyType: "ec-p256" },
  "nvs-encrypted": {
    outcomes: ["boot-loop"],
    why: "the emulator has no HMAC peripheral, which HMAC-based NVS encryption needs at start-up",
    keyType: "ec-p256",
  },
  ds: {
    // Mbed TLS 3 (v5) signs through the absent peripheral and returns garbage the tool refuses; PSA (v6) fails.
    outcomes: ["csr-rejected", "signing-refused"],
    why: "the emulator has no DS peripheral: no valid signature comes out of it, and no CSR is registered",
    keyType: "rsa-2048",
  },
};

export interface ChipCheckResult {
  board: string;
  keyStore: string;
  idf: string;
  status: "ok" | "failed";
  ran: "end to end" | "link only";
  outcome: Outcome;
  build: { ms: number; built: boolean; appBytes?: number; appFill?: number };
  bootMs?: number;
  provisionMs?: number;
  generation?: number;
  detail: string;
}

function runCli(
  args: string[],
  cwd: string,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
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
    const timer = setTimeout(() => child.kill("SIGKILL"), PROVISION_TIMEOUT_MS);
    child.on("close", (code) => {
      clearTimeout(timer);
      done({ code, stdout, stderr });
    });
  });
}

async function checkOne(kit: string, keyStore: KeyStoreKind): Promise<ChipCheckResult> {
  const expected = EXPECTED[keyStore] ?? { outcomes: ["committed"], why: "", keyType: "ec-p256" };
  const base = {
    board: BOARD,
    keyStore,
    idf: kit,
    ran: expected.outcomes.includes("committed") ? ("end to end" as const) : ("link only" as const),
  };
  const started = Date.now();
  let image: ChipImage;
  try {
    image = await ensureChipImageBuilt({ board: BOARD, keyStore, kitVersion: kit });
  } catch (e) {
    return {
      ...base,
      status: "failed",
      outcome: "other",
      build: { ms: Date.now() - started, built: true },
      detail: `image build failed: ${asProvisionError(e).describe()}`,
    };
  }
  const app = image.partitions.find((p) => p.fill !== undefined);
  const build = { ms: image.ms, built: image.built, appBytes: app?.used, appFill: app?.fill };
  const work = mkdtempSync(join(tmpdir(), "chip-check-"));
  const result = (
    outcome: Outcome,
    detail: string,
    extra: Partial<ChipCheckResult> = {},
  ): ChipCheckResult => ({
    ...base,
    status: expected.outcomes.includes(outcome) ? "ok" : "failed",
    outcome,
    build,
    detail: expected.outcomes.includes(outcome) && expected.why ? `${detail} (${expected.why})` : detail,
    ...extra,
  });
  try {
    let chip: Awaited<ReturnType<typeof startEmulatedChip>>;
    try {
      chip = await startEmulatedChip({ stateDir: join(work, "chip"), image });
    } catch (e) {
      const err = asProvisionError(e);
      return result(/restarts during start-up/.test(err.message) ? "boot-loop" : "other", err.message);
    }
    try {
      const t0 = Date.now();
      const r = await runCli(
        [
          "--port",
          chip.port,
          "--no-reset",
          "--key-store",
          keyStore,
          "--key-type",
          expected.keyType,
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
      const provisionMs = Date.now() - t0;
      const out = JSON.parse(r.stdout.trim().split("\n").pop() || "{}") as {
        ok?: boolean;
        committed?: { generation: number };
        error?: { code: string; message: string };
      };
      if (out.ok && out.committed)
        return result("committed", `provisioned, committed (generation ${out.committed.generation})`, {
          bootMs: chip.bootMs,
          provisionMs,
          generation: out.committed.generation,
        });
      const code = out.error?.code ?? `exit ${r.code}`;
      const signingRefused =
        code === "DEVICE_REFUSED" && /GET_CSR refused by device: ERR_CRYPTO/.test(out.error?.message ?? "");
      return result(
        code === "CSR_REJECTED" ? "csr-rejected" : signingRefused ? "signing-refused" : "other",
        `not provisioned: ${code}: ${out.error?.message ?? r.stderr.trim().split("\n").slice(-3).join(" / ")}`,
        { bootMs: chip.bootMs, provisionMs },
      );
    } finally {
      await chip.stop();
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

function describe(r: ChipCheckResult): string {
  const head = `${r.board} ${r.keyStore} ESP-IDF v${r.idf}`;
  const linked =
    r.build.appBytes !== undefined
      ? `image linked (app ${Math.round(r.build.appBytes / 1024)} KiB, ${((r.build.appFill ?? 0) * 100).toFixed(0)} % of its partition; ${r.build.built ? `built in ${(r.build.ms / 1000).toFixed(0)} s` : "cached"})`
      : "image NOT built";
  const emulated =
    r.outcome === "committed"
      ? `emulated chip: booted (${r.bootMs} ms), provisioned, committed (generation ${r.generation}, ${((r.provisionMs ?? 0) / 1000).toFixed(1)} s)`
      : `emulated chip: ${r.detail}`;
  return `${head}: ${r.status === "ok" ? "ok" : "FAILED"} [${r.ran}]: ${linked}; ${emulated}`;
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      kit: { type: "string", multiple: true },
      "key-store": { type: "string", multiple: true },
      json: { type: "boolean", default: false },
      report: { type: "string" },
    },
  });
  if (values.report) writeFileSync(values.report, "");
  const kits = values.kit ?? availableKits();
  if (kits.length === 0)
    throw new ProvisionError("CONFIG", "no ESP-IDF kit found", {
      hint: "set PROVISION_IDF_KIT_DIR to the folder with esp-idf-kit-v*.tar.xz (default ../shared/esp-idf-kit)",
    });
  const stores = getBoard(BOARD).keyStore.supported.filter(
    (s) => !values["key-store"] || values["key-store"].includes(s),
  );
  const results: ChipCheckResult[] = [];
  // One at a time: a build takes both cores, and the emulated chip counts instructions, not seconds.
  for (const kit of kits)
    for (const keyStore of stores) {
      const r = await checkOne(kit, keyStore);
      results.push(r);
      process.stdout.write(values.json ? `${JSON.stringify(r)}\n` : `${describe(r)}\n`);
      if (values.report) appendFileSync(values.report, `${JSON.stringify(r)}\n`);
    }
  const failed = results.filter((r) => r.status === "failed").length;
  if (!values.json)
    process.stdout.write(
      `\n${results.length - failed} of ${results.length} board/key-store/ESP-IDF combinations as expected on the emulated chip ` +
        `(${results.filter((r) => r.ran === "end to end").length} end to end, the rest link checks)\n`,
    );
  return failed === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`${e instanceof ProvisionError ? e.describe() : String((e as Error).stack ?? e)}\n`);
    process.exit(2);
  },
);
