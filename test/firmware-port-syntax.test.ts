/**
 * Smoke check of the ESP-IDF port's C: each board's rendered main/*.c goes
 * through `gcc -fsyntax-only -Wall -Wextra -Werror` against the real core
 * headers, Debian's mbedTLS 2.28 and small stand-ins for the ESP-IDF headers
 * (test/firmware-port-stubs). It catches syntax errors and mismatches with
 * the core's interfaces; whether ESP-IDF's own APIs are used right is only
 * checked by an ESP-IDF build (.github/workflows/firmware.yml).
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadBoards } from "../src/boards/index.js";
import { renderFirmware } from "../src/firmware/render.js";

const STUBS = join(import.meta.dirname, "firmware-port-stubs");
const GCC_FLAGS = ["-std=gnu11", "-fsyntax-only", "-Wall", "-Wextra", "-Wshadow", "-Werror"];

function syntaxErrors(projectDir: string, file: string): string {
  try {
    execFileSync(
      "gcc",
      [
        ...GCC_FLAGS,
        `-I${STUBS}`,
        `-I${join(projectDir, "main")}`,
        `-I${join(projectDir, "components/prov_core/include")}`,
        file,
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    return "";
  } catch (e) {
    return String((e as { stderr?: Buffer }).stderr ?? e);
  }
}

describe.each(loadBoards().filter((b) => b.chip !== "host"))("ESP-IDF port C of $id", (board) => {
  const dir = mkdtempSync(join(tmpdir(), `fw-syntax-${board.id}-`));
  renderFirmware({ boardId: board.id, outDir: dir });
  const sources = readdirSync(join(dir, "main")).filter((f) => f.endsWith(".c"));

  it.each(sources)("%s compiles with -Wall -Wextra -Werror", (file) => {
    expect(syntaxErrors(dir, join(dir, "main", file))).toBe("");
  });
});

it("the syntax check does catch a broken port source", () => {
  const dir = mkdtempSync(join(tmpdir(), "fw-syntax-broken-"));
  renderFirmware({ boardId: "esp32-devkitc", outDir: dir });
  const broken = join(dir, "main", "broken.c");
  // A key store missing a field of prov_keystore_t must not pass.
  writeFileSync(broken, '#include "port.h"\nvoid f(prov_keystore_t *k) { k->export_private_key = 0; }\n');
  expect(syntaxErrors(dir, broken)).toContain("export_private_key");
});
