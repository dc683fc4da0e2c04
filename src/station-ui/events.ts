/**
 * Server-Sent Events to the pages that watch (docs/decisions.md D33): one
 * way, plain HTTP, reconnected by the browser itself. A station must not
 * pay for a slow or stuck reader: at most MAX_READERS at once, and a reader
 * whose unsent events pass MAX_BACKLOG_BYTES is dropped (its browser
 * reconnects and starts again from a snapshot).
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { CONTENT_SECURITY_POLICY } from "./http.js";

export const MAX_READERS = 32;
export const MAX_BACKLOG_BYTES = 1024 * 1024;
/** A comment line now and then, so proxies and idle timeouts keep the stream open. */
export const HEARTBEAT_MS = 15_000;
/** How soon a browser reconnects after the stream broke. */
const RETRY_MS = 2_000;

export function sseFrame(event: string, data: unknown): string {
  // JSON has no raw line breaks: one data line per event.
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}

export class EventStreams {
  private readonly readers = new Set<ServerResponse>();
  private readonly heartbeat: NodeJS.Timeout;

  constructor() {
    this.heartbeat = setInterval(() => this.write(": ping\n\n"), HEARTBEAT_MS);
    this.heartbeat.unref();
  }

  get size(): number {
    return this.readers.size;
  }

  /** Opens a stream for `req`; `first` (the snapshot) goes out before any update. */
  open(req: IncomingMessage, res: ServerResponse, first: string): void {
    if (this.readers.size >= MAX_READERS) {
      res.writeHead(503, { "Content-Type": "text/plain; charset=utf-8", "Retry-After": "10" });
      res.end(`at most ${MAX_READERS} pages may watch at once\n`);
      return;
    }
    res.writeHead(200, {
      "Content-Type": "text/event-stream; charset=utf-8",
      "Cache-Control": "no-store",
      "X-Content-Type-Options": "nosniff",
      "Content-Security-Policy": CONTENT_SECURITY_POLICY,
      Connection: "keep-alive",
    });
    res.write(`retry: ${RETRY_MS}\n\n${first}`);
    this.readers.add(res);
    const drop = () => this.readers.delete(res);
    req.once("close", drop);
    res.once("close", drop);
  }

  write(frame: string): void {
    for (const res of this.readers) {
      if (res.writableLength > MAX_BACKLOG_BYTES) {
        this.readers.delete(res);
        res.destroy();
        continue;
      }
      res.write(frame);
    }
  }

  close(): void {
    clearInterval(this.heartbeat);
    for (const res of this.readers) res.end();
    this.readers.clear();
  }
}
