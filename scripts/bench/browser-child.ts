/**
 * One headless Chromium (Debian's) watching a station's page, for the
 * benchmark's --ui passes: prints "drawn" once the page shows the station running and
 * keeps watching until its stdin closes.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";
import { CHROMIUM, CHROMIUM_ARGS } from "../../test/browser.test-helper.js";

const url = process.argv[2] as string;
const profile = mkdtempSync(join(tmpdir(), "provision-bench-chromium-"));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: CHROMIUM,
  headless: true,
  args: CHROMIUM_ARGS,
  viewport: { width: 1920, height: 1080 },
});
try {
  const page = await context.newPage();
  await page.goto(url);
  await page.locator(`#status[data-status="running"]`).waitFor();
  process.stdout.write("drawn\n");
  process.stdin.resume();
  await new Promise((r) => process.stdin.once("end", r));
} finally {
  await context.close();
  rmSync(profile, { recursive: true, force: true });
}
