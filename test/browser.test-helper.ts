/**
 * A real browser for the tests of the station's page: Debian's Chromium
 * (never a downloaded one), headless, driven by playwright-core, each time
 * with a fresh profile; and a `provision` process that keeps running (a
 * station serving its page, a line view) whose output a test waits on.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type BrowserContext, chromium } from "playwright-core";
import { BIN } from "./cli.test-helper.js";

export const CHROMIUM = process.env.PROVISION_TEST_CHROMIUM ?? "/usr/bin/chromium";

export const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

export interface Browser {
  context: BrowserContext;
  close(): Promise<void>;
}

export async function openBrowser(viewport = { width: 1280, height: 800 }): Promise<Browser> {
  if (!existsSync(CHROMIUM))
    throw new Error(`no browser at ${CHROMIUM}: apt-get install chromium (.ci/run installs it)`);
  const profile = mkdtempSync(join(tmpdir(), "provision-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport,
  });
  return {
    context,
    async close() {
      await context.close().catch(() => undefined);
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

export interface RunningCli {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves with the first match of `re` in stderr (now or later); rejects if the process exits first. */
  stderrMatch(re: RegExp): Promise<RegExpMatchArray>;
  /** Exit status (or the signal's name) once the process is gone. */
  exited: Promise<number | string | null>;
}

/**
 * `provision ARGS` in `cwd`, left running; a clean environment as in runCli.
 * `installed`: an installed `provision` to run (by its shebang) instead of this checkout's.
 */
export function startCli(
  args: string[],
  cwd: string,
  env: NodeJS.ProcessEnv = {},
  installed?: string,
): RunningCli {
  const [command, ...entry] = installed ? [installed] : [process.execPath, BIN];
  const child = spawn(command as string, [...entry, ...args], {
    cwd,
    env: {
      PATH: process.env.PATH,
      HOME: cwd,
      AWS_EC2_METADATA_DISABLED: "true",
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
      ...env,
    },
  });
  let out = "";
  let err = "";
  const waiters = new Set<() => void>();
  child.stdout.on("data", (d) => {
    out += d;
  });
  child.stderr.on("data", (d) => {
    err += d;
    for (const w of waiters) w();
  });
  const exited = new Promise<number | string | null>((done) =>
    child.once("close", (status, signal) => {
      for (const w of waiters) w();
      done(status ?? signal);
    }),
  );
  let gone = false;
  exited.then(() => {
    gone = true;
  });
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    exited,
    stderrMatch: (re) =>
      new Promise((resolve, reject) => {
        const check = () => {
          const m = re.exec(err);
          if (m) {
            waiters.delete(check);
            resolve(m);
          } else if (gone || child.exitCode !== null) {
            waiters.delete(check);
            reject(new Error(`provision exited before printing ${re}:\n${err}`));
          }
        };
        waiters.add(check);
        check();
      }),
  };
}
