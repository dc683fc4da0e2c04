/**
 * The local AWS IoT control plane over HTTP: routes restJson1 requests to
 * operations, checks SigV4, applies injected faults and answers errors in
 * AWS's shape (x-amzn-ErrorType header + {message} body). Nothing a client
 * sends can crash it: every failure becomes an HTTP answer.
 */
import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import createDebug from "debug";
import { ApiError } from "./api-error.js";
import type { FaultInjector } from "./faults.js";
import { type BoundRequest, matchRoute, type OperationContext, ROUTES } from "./operations.js";
import {
  answerServiceQuotas,
  type LocalQuotaSource,
  SERVICE_QUOTAS_SIGNING_NAME,
  serviceQuotasOperationOf,
} from "./service-quotas.js";
import { IOT_SIGNING_NAMES, type LocalCredentials, verifySigV4 } from "./sigv4-verify.js";

/** How long an idle keep-alive connection stays open (AWS keeps them for minutes). */
const KEEP_ALIVE_IDLE_MS = 120_000;

const debug = createDebug("provision/local-iot/control-plane");

/** Largest body any supported operation needs (a 4096-char CSR in JSON) with room to spare. */
export const MAX_BODY_BYTES = 64 * 1024;
/** Operation name used in stats for requests that match no route. */
export const UNKNOWN_OPERATION = "(unknown)";

export interface ControlPlaneOptions {
  host: string;
  port: number;
  region: string;
  credentials: LocalCredentials;
  faults: FaultInjector;
  context: OperationContext;
  accountId: string;
}

export interface ControlPlane {
  url: string;
  port: number;
  close(): Promise<void>;
}

class BodyTooLarge extends Error {}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY_BYTES) {
        reject(new BodyTooLarge());
        req.resume(); // drain, so the socket can still carry the answer
        return;
      }
      chunks.push(c);
    });
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

function send(
  res: ServerResponse,
  status: number,
  body: string,
  extraHeaders: Record<string, string> = {},
): void {
  if (res.headersSent) return;
  res.writeHead(status, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(body),
    "x-amzn-RequestId": randomUUID(),
    ...extraHeaders,
  });
  res.end(body);
}

function sendError(res: ServerResponse, e: ApiError): void {
  send(res, e.statusCode, JSON.stringify({ message: e.message, ...e.extra }), {
    "x-amzn-ErrorType": e.errorType,
  });
}

function decodeSegments(rawPath: string): string[] {
  try {
    return rawPath
      .split("/")
      .filter(Boolean)
      .map((s) => decodeURIComponent(s));
  } catch {
    throw new ApiError("InvalidRequestException", "The request path is not valid percent-encoding");
  }
}

function parseJsonBody(body: Buffer): Record<string, unknown> {
  if (body.length === 0) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString("utf8"));
  } catch (e) {
    throw new ApiError(
      "InvalidRequestException",
      `The request body is not valid JSON: ${(e as Error).message}`,
    );
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new ApiError("InvalidRequestException", "The request body must be a JSON object");
  }
  return parsed as Record<string, unknown>;
}

const LAG_PROBE_MS = 10;

/**
 * How long the event loop was held up just now. A request that waited in
 * the socket while the service was busy (2 cores shared with stations and
 * twins) is only seen afterwards, bunched with later ones; counted at the
 * time it was seen, a client that kept to a quota would look as if it had
 * not. The rate window therefore counts a request at the earliest time it
 * may have arrived: seen minus this lag.
 */
function watchLoopLag(): { lagMs(): number; stop(): void } {
  let lastTick = performance.now();
  let lastStallMs = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    lastStallMs = Math.max(0, now - lastTick - LAG_PROBE_MS);
    lastTick = now;
  }, LAG_PROBE_MS);
  timer.unref();
  return {
    // After a stall the loop runs this timer before it reads the sockets, so the requests that waited
    // are handled just after a tick: the stall that tick saw is theirs.
    lagMs: () => {
      const sinceTick = performance.now() - lastTick;
      return Math.max(0, sinceTick - LAG_PROBE_MS, sinceTick < LAG_PROBE_MS ? lastStallMs : 0);
    },
    stop: () => clearInterval(timer),
  };
}

/** What one request asks for: the operation, the signing names it accepts, and how to answer it. */
interface ResolvedRequest {
  operation: string;
  signingNames: readonly string[];
  answer(body: Buffer): Promise<Record<string, unknown> | undefined>;
}

export async function startControlPlane(options: ControlPlaneOptions): Promise<ControlPlane> {
  const { faults, context, credentials, region } = options;
  const quotaSource: LocalQuotaSource = {
    region,
    accountId: options.accountId,
    operations: ROUTES.map((r) => r.operation),
    limitFor: (operation) => faults.maxRpsFor(operation),
  };

  function resolveRequest(
    method: string,
    rawPath: string,
    query: URLSearchParams,
    headers: IncomingMessage["headers"],
  ): ResolvedRequest {
    const quotaOperation = serviceQuotasOperationOf(method, rawPath, headers);
    if (quotaOperation !== undefined) {
      return {
        operation: quotaOperation,
        signingNames: [SERVICE_QUOTAS_SIGNING_NAME],
        answer: async (body) => answerServiceQuotas(quotaOperation, parseJsonBody(body), quotaSource),
      };
    }
    const match = matchRoute(method, decodeSegments(rawPath));
    if (!match || "methodMismatch" in match) {
      throw new ApiError("UnknownOperationException", `No operation matches ${method} ${rawPath}`);
    }
    return {
      operation: match.route.operation,
      signingNames: IOT_SIGNING_NAMES,
      answer: (body) => {
        const bound: BoundRequest = { labels: match.labels, query, headers, body: parseJsonBody(body) };
        return match.route.handler(bound, context);
      },
    };
  }

  const loop = watchLoopLag();

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const arrivedAtMs = Date.now() - loop.lagMs();
    const url = req.url ?? "/";
    const q = url.indexOf("?");
    const rawPath = q < 0 ? url : url.slice(0, q);
    const query = new URLSearchParams(q < 0 ? "" : url.slice(q + 1));
    const method = req.method ?? "GET";
    let operation = UNKNOWN_OPERATION;
    let injected = false;
    try {
      const body = await readBody(req);
      let resolved: ResolvedRequest;
      try {
        resolved = resolveRequest(method, rawPath, query, req.headers);
      } catch (e) {
        faults.recordRequest(UNKNOWN_OPERATION);
        faults.recordError(UNKNOWN_OPERATION);
        throw e;
      }
      operation = resolved.operation;
      faults.recordRequest(operation);
      await verifySigV4(
        { method, rawPath, query, headers: req.headers, body },
        credentials,
        region,
        resolved.signingNames,
      );
      injected = true;
      await faults.before(operation, arrivedAtMs);
      injected = false;
      const out = await resolved.answer(body);
      injected = true;
      faults.after(operation);
      injected = false;
      faults.recordOk(operation);
      debug("%s %s -> %s ok", method, rawPath, operation);
      send(res, 200, out === undefined ? "" : JSON.stringify(out));
    } catch (e) {
      let err: ApiError;
      if (e instanceof ApiError) err = e;
      else if (e instanceof BodyTooLarge) {
        err = new ApiError("InvalidRequestException", `The request body exceeds ${MAX_BODY_BYTES} bytes`);
      } else {
        debug("%s %s -> internal error %O", method, rawPath, e);
        err = new ApiError(
          "InternalFailureException",
          `Internal failure in the local AWS IoT: ${(e as Error)?.message}`,
        );
      }
      // Injected faults are counted by the injector itself.
      if (!injected && operation !== UNKNOWN_OPERATION) faults.recordError(operation);
      debug("%s %s -> %s %s: %s", method, rawPath, operation, err.errorType, err.message);
      sendError(res, err);
    }
  }

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((e) => {
      // Last resort: handle() answers every error itself; this covers a failing socket.
      debug("unexpected failure %O", e);
      if (!res.headersSent) sendError(res, new ApiError("InternalFailureException", "Internal failure"));
    });
  });
  server.on("clientError", (_err, socket) => {
    if (socket.writable) socket.end("HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n");
    else socket.destroy();
  });
  // SDK clients keep connections alive and reuse them whenever they like. A server that drops an idle
  // one (Node's default: after 5 s) races a client sending on it: ECONNRESET, which for
  // CreateCertificateFromCsr means an unclear create and a rollback (seen under load). AWS keeps idle
  // connections for minutes; so do we. close() still returns at once: Node 20 closes idle sockets itself.
  server.keepAliveTimeout = KEEP_ALIVE_IDLE_MS;
  server.headersTimeout = KEEP_ALIVE_IDLE_MS + 1_000;

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://${options.host}:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        loop.stop();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
