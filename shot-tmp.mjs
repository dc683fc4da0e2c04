import { chromium } from "playwright-core";
import { mkdtempSync } from "node:fs";
const [url, out, w, h] = process.argv.slice(2);
const dir = mkdtempSync("/tmp/pwud-");
const ctx = await chromium.launchPersistentContext(dir, { executablePath: "/usr/bin/chromium", headless: true,
  viewport: { width: Number(w), height: Number(h) },
  args: ["--no-sandbox","--disable-gpu","--disable-quic","--no-first-run","--disable-background-networking","--disable-component-update","--disable-sync"] });
const page = await ctx.newPage();
page.on("console", (m) => console.log("console:", m.text()));
page.on("pageerror", (e) => console.log("pageerror:", e.message));
await page.goto(url);
await page.waitForTimeout(1500);
await page.screenshot({ path: out });
await ctx.close();
