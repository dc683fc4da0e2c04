/**
 * The view's HTTP side on real sockets: who may read (token, loopback host),
 * read-only methods, the headers that keep device text from running, the
 * files served from the package, the event stream, and the flags checked
 * before anything is opened.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { isProvisionError } from "../errors.js";
import { newSlot, type SlotView } from "../station/slot.js";
import { uiBind } from "./bind.js";
import { MAX_READERS } from "./events.js";
import { CONTENT_SECURITY_POLICY } from "./http.js";
import { type StationUi, startStationUi } from "./station-server.js";

const dir = mkdtempSync(join(tmpdir(), "station-ui-server-"));
const opened: StationUi[] = [];
afterAll(async () => {
  for (const ui of opened) await ui.close();
  rmSync(dir, { recursive: true, force: true });
});

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One request to 127.0.0.1:port; `stream`: resolve at the first chunk of the body (an event stream). */
function get(
  port: number,
  path: string,
  options: { method?: string; headers?: Record<string, string>; stream?: boolean } = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request({
      host: "127.0.0.1",
      port,
      path,
      method: options.method ?? "GET",
      headers: options.headers,
    });
    req.on("response", (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (d: string) => {
        body += d;
        if (options.stream && body.includes("\n\n")) {
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body });
          res.destroy();
        }
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on("error", reject);
    req.end();
  });
}

async function station(bindText: string, tokenFile?: string): Promise<StationUi> {
  const ui = await startStationUi(uiBind(bindText, tokenFile), { stationId: "st", target: "AWS IoT" }, []);
  opened.push(ui);
  const a = newSlot("A1", "/dev/ttyUSB0");
  ui.attach({ slots: new Map<string, SlotView>([["A1", a]]), rate: () => 0 });
  return ui;
}

function usageError(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    if (isProvisionError(e, "USAGE")) return e.message;
    throw e;
  }
  throw new Error("no error");
}

describe("--ui and its token", () => {
  it("a port alone is loopback; a host that is not loopback gets a token of its own", () => {
    expect(uiBind("8080", undefined)).toMatchObject({ host: "127.0.0.1", port: 8080, loopback: true });
    expect(uiBind("8080", undefined).token).toBeUndefined();
    expect(uiBind("[::1]:8080", undefined)).toMatchObject({ host: "::1", loopback: true });
    const open = uiBind("0.0.0.0:8080", undefined);
    expect(open.loopback).toBe(false);
    expect(open.token).toMatch(/^[0-9a-f]{32}$/);
    expect(uiBind("0.0.0.0:8080", undefined).token).not.toBe(open.token);
  });

  it("refuses a bad address and a short token file, naming them", () => {
    expect(usageError(() => uiBind("host:port", undefined))).toMatch(
      /--ui host:port: expected \[HOST:\]PORT/,
    );
    expect(usageError(() => uiBind("70000", undefined))).toMatch(/--ui 70000/);
    const short = join(dir, "short");
    writeFileSync(short, "abc\n");
    expect(usageError(() => uiBind("8080", short))).toMatch(/--ui-token-file .*at least 16 characters/);
    expect(usageError(() => uiBind("8080", join(dir, "missing")))).toMatch(/--ui-token-file .*missing/);
  });

  it("a port in use is a usage error naming it", async () => {
    const taken = createServer().listen(0, "127.0.0.1");
    await new Promise((r) => taken.once("listening", r));
    const port = (taken.address() as { port: number }).port;
    await expect(station(`127.0.0.1:${port}`)).rejects.toThrow(
      /cannot serve the view on 127.0.0.1:\d+: EADDRINUSE/,
    );
    taken.close();
  });
});

describe("who may read", () => {
  it("with a token: none, a wrong one -> 401; the right one in the URL becomes an HttpOnly cookie", async () => {
    const file = join(dir, "token");
    writeFileSync(file, "0123456789abcdef0123\n");
    const ui = await station("0.0.0.0:0", file);
    expect(ui.url).toMatch(/\?token=0123456789abcdef0123$/);
    expect((await get(ui.port, "/state.json")).status).toBe(401);
    expect((await get(ui.port, "/events?token=wrong-token-0000000")).status).toBe(401);
    expect((await get(ui.port, "/")).body).toMatch(/needs its token/);
    const first = await get(ui.port, "/?token=0123456789abcdef0123");
    expect(first.status).toBe(303);
    expect(first.headers.location).toBe("/");
    const cookie = String(first.headers["set-cookie"]);
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Strict/);
    const page = await get(ui.port, "/", { headers: { Cookie: cookie.split(";")[0] as string } });
    expect(page.status).toBe(200);
    expect(page.body).toContain('<script type="module" src="/assets/station.js">');
    const state = await get(ui.port, "/state.json", {
      headers: { Authorization: "Bearer 0123456789abcdef0123" },
    });
    expect(JSON.parse(state.body).slots[0].slot).toBe("A1");
    // The page's own files hold no state: public.
    expect((await get(ui.port, "/assets/station.js")).status).toBe(200);
  });

  it("without a token (loopback): a request naming another host is refused (DNS rebinding)", async () => {
    const ui = await station("127.0.0.1:0");
    expect((await get(ui.port, "/state.json")).status).toBe(200);
    expect((await get(ui.port, "/state.json", { headers: { Host: `evil.example:${ui.port}` } })).status).toBe(
      401,
    );
    expect((await get(ui.port, "/state.json", { headers: { Host: `localhost:${ui.port}` } })).status).toBe(
      200,
    );
  });
});

describe("what is served", () => {
  it("read-only: anything but GET and HEAD is 405", async () => {
    const ui = await station("127.0.0.1:0");
    for (const method of ["POST", "PUT", "DELETE", "PATCH"]) {
      const r = await get(ui.port, "/", { method });
      expect(r.status, method).toBe(405);
      expect(r.headers.allow).toBe("GET, HEAD");
    }
  });

  it("every answer forbids inline script and sniffing; only the package's files are served", async () => {
    const ui = await station("127.0.0.1:0");
    const page = await get(ui.port, "/");
    expect(page.headers["content-security-policy"]).toBe(CONTENT_SECURITY_POLICY);
    expect(CONTENT_SECURITY_POLICY).toMatch(/script-src 'self'(;|$)/);
    expect(CONTENT_SECURITY_POLICY).not.toMatch(/unsafe-inline|unsafe-eval|https?:/);
    expect(page.headers["x-content-type-options"]).toBe("nosniff");
    expect(page.headers["referrer-policy"]).toBe("no-referrer");
    expect((await get(ui.port, "/assets/view.css")).headers["content-type"]).toMatch(/^text\/css/);
    for (const path of [
      "/assets/../package.json",
      "/assets/%2e%2e/package.json",
      "/package.json",
      "/assets/x.js",
    ])
      expect((await get(ui.port, path)).status, path).toBe(404);
  });

  it("the event stream opens with a snapshot; past MAX_READERS a reader is turned away", async () => {
    const ui = await station("127.0.0.1:0");
    const first = await get(ui.port, "/events", { stream: true });
    expect(first.headers["content-type"]).toMatch(/^text\/event-stream/);
    expect(first.body).toMatch(/^retry: \d+\n\nevent: snapshot\ndata: \{/);
    const held: Promise<Answer>[] = [];
    const sockets: ReturnType<typeof request>[] = [];
    for (let i = 0; i < MAX_READERS; i++) {
      held.push(
        new Promise((resolve) => {
          const req = request({ host: "127.0.0.1", port: ui.port, path: "/events" });
          sockets.push(req);
          req.on("response", (res) => {
            res.once("data", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: "" }));
          });
          req.on("error", () => undefined);
          req.end();
        }),
      );
    }
    expect((await Promise.all(held)).every((a) => a.status === 200)).toBe(true);
    expect(ui.readers()).toBe(MAX_READERS);
    expect((await get(ui.port, "/events")).status).toBe(503);
    for (const s of sockets) s.destroy();
  });
});
