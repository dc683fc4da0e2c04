/**
 * The HTTP side both views share: the page's files (shipped in the
 * package's ui/ folder, read once at start: no CDN, works on an offline
 * line), the headers that keep a device's text from running as script
 * (a Content-Security-Policy that allows only the page's own files, no
 * inline script or style), read-only methods, and who may read: with a
 * token, whoever shows it (in the URL once, then a cookie; or a bearer
 * header); without one (loopback only), requests that name a loopback host,
 * so a web page elsewhere cannot reach the view through DNS rebinding.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { readFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { ProvisionError } from "../errors.js";
import { PACKAGE_ROOT } from "../package-root.js";
import { isLoopbackHost, type UiBind } from "./bind.js";

export const UI_ASSETS_DIR = join(PACKAGE_ROOT, "ui");
const ASSET_FILES = ["view.css", "model.js", "render.js", "station.js", "line.js"];
const TYPES: Record<string, string> = {
  css: "text/css; charset=utf-8",
  js: "text/javascript; charset=utf-8",
  html: "text/html; charset=utf-8",
};

export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

const SECURITY_HEADERS: Record<string, string> = {
  "Content-Security-Policy": CONTENT_SECURITY_POLICY,
  "X-Content-Type-Options": "nosniff",
  "Referrer-Policy": "no-referrer",
  "X-Frame-Options": "DENY",
  "Cross-Origin-Opener-Policy": "same-origin",
  "Cross-Origin-Resource-Policy": "same-origin",
  "Cache-Control": "no-store",
};

export interface UiAssets {
  /** The page at `/`. */
  page: Buffer;
  files: Map<string, Buffer>;
}

/**
 * The page (one shell for both views, naming its script) and its files,
 * read once: a missing one is a broken install, said at start.
 */
export function loadAssets(view: "station" | "line", dir = UI_ASSETS_DIR): UiAssets {
  const read = (name: string) => {
    try {
      return readFileSync(join(dir, name));
    } catch (e) {
      throw new ProvisionError(
        "INTERNAL",
        `the view's file ${join(dir, name)} cannot be read: ${(e as Error).message}`,
        {
          hint: "the package is incomplete: install it again",
        },
      );
    }
  };
  const page = Buffer.from(read("index.html").toString("utf8").replaceAll("VIEW", view));
  return { page, files: new Map(ASSET_FILES.map((f) => [f, read(f)])) };
}

export function send(
  res: ServerResponse,
  status: number,
  type: string,
  body: string | Buffer,
  extra: Record<string, string> = {},
): void {
  res.writeHead(status, { ...SECURITY_HEADERS, "Content-Type": type, ...extra });
  res.end(res.req.method === "HEAD" ? undefined : body);
}

function sha256(text: string): Buffer {
  return createHash("sha256").update(text).digest();
}

function cookieName(port: number): string {
  // Cookies ignore ports: two views on one host keep their own.
  return `provision_ui_${port}`;
}

function presentedTokens(req: IncomingMessage, url: URL, port: number): string[] {
  const out: string[] = [];
  const q = url.searchParams.get("token");
  if (q) out.push(q);
  const auth = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? "");
  if (auth?.[1]) out.push(auth[1]);
  for (const part of (req.headers.cookie ?? "").split(";")) {
    const [k, ...v] = part.trim().split("=");
    if (k === cookieName(port)) out.push(decodeURIComponent(v.join("=")));
  }
  return out;
}

/** Whether the request may read the view's state (the page's own files are public: they hold none). */
export function mayRead(req: IncomingMessage, url: URL, bind: UiBind, port: number): boolean {
  if (bind.token === undefined) {
    const host = (req.headers.host ?? "").replace(/:\d+$/, "");
    return isLoopbackHost(host);
  }
  const want = sha256(bind.token);
  return presentedTokens(req, url, port).some((t) => timingSafeEqual(sha256(t), want));
}

export interface ViewServer {
  server: Server;
  port: number;
  /** The URL to print: with the token when one was generated or given. */
  url: string;
  close(): Promise<void>;
}

/**
 * Serves `/` (the page), `/assets/*` and what `routes` answers (after the
 * read check). Only GET and HEAD: the view changes nothing.
 */
export async function startViewServer(
  bind: UiBind,
  assets: UiAssets,
  routes: (path: string, req: IncomingMessage, res: ServerResponse) => boolean,
  publicHost: string,
): Promise<ViewServer> {
  let port = bind.port;
  const server = createServer((req, res) => {
    if (req.method !== "GET" && req.method !== "HEAD") {
      send(res, 405, "text/plain; charset=utf-8", "this view is read-only\n", { Allow: "GET, HEAD" });
      return;
    }
    const url = new URL(req.url ?? "/", "http://view.invalid");
    const asset = /^\/assets\/([a-z-]+\.(?:js|css))$/.exec(url.pathname)?.[1];
    const file = asset === undefined ? undefined : assets.files.get(asset);
    if (file) {
      send(res, 200, TYPES[asset?.split(".").pop() ?? ""] ?? "application/octet-stream", file);
      return;
    }
    if (url.pathname === "/favicon.ico") {
      send(res, 204, "text/plain", "");
      return;
    }
    if (!mayRead(req, url, bind, port)) {
      send(
        res,
        401,
        "text/plain; charset=utf-8",
        "this view needs its token: open the URL the station printed (it ends in ?token=...)\n",
      );
      return;
    }
    if (url.pathname === "/" && url.searchParams.has("token") && bind.token !== undefined) {
      // The token goes into a cookie and out of the address bar (and the browser's history).
      send(res, 303, "text/plain; charset=utf-8", "", {
        Location: "/",
        "Set-Cookie": `${cookieName(port)}=${encodeURIComponent(bind.token)}; HttpOnly; SameSite=Strict; Path=/`,
      });
      return;
    }
    if (url.pathname === "/") {
      send(res, 200, TYPES.html as string, assets.page);
      return;
    }
    if (!routes(url.pathname, req, res)) send(res, 404, "text/plain; charset=utf-8", "not found\n");
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", (e: NodeJS.ErrnoException) =>
      reject(
        new ProvisionError(
          "USAGE",
          `cannot serve the view on ${bind.host}:${bind.port}: ${e.code ?? e.message}`,
          {
            where: `${bind.host}:${bind.port}`,
            hint:
              e.code === "EADDRINUSE"
                ? "another program listens there: give --ui another port"
                : "give --ui a host of this machine, or only a port",
          },
        ),
      ),
    );
    server.listen(bind.port, bind.host, () => resolve());
  });
  port = (server.address() as AddressInfo).port;
  const hostText = publicHost.includes(":") ? `[${publicHost}]` : publicHost;
  const url = `http://${hostText}:${port}/${bind.token ? `?token=${bind.token}` : ""}`;
  return {
    server,
    port,
    url,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
