/**
 * The local AWS IoT message broker: aedes behind mutual TLS (devices) and
 * behind WSS with SigV4 presigned URLs (observers), enforcing the policies the
 * store attaches to each certificate, and publishing AWS's lifecycle
 * events. Reads the store only through StoreView and asks it on every
 * CONNECT, PUBLISH, SUBSCRIBE and delivery, so changes to the store apply at once.
 *
 * What is enforced and every known difference from AWS IoT Core:
 * docs/local-iot.md, section "MQTT broker".
 */
import { randomUUID } from "node:crypto";
import { createServer as createHttpsServer } from "node:https";
import type { Socket } from "node:net";
import type { Duplex } from "node:stream";
import { createServer as createTlsServer, type TLSSocket } from "node:tls";
import { Aedes, type AedesPublishPacket, type Client, type PublishPacket, type Subscription } from "aedes";
import createDebug from "debug";
import { createWebSocketStream, WebSocketServer } from "ws";
import { ProvisionError } from "../../errors.js";
import { verifyPresignedUpgrade } from "../sigv4-verify.js";
import type { StoreView } from "../types.js";
import {
  AEDES_SYS_PREFIX,
  type AedesWithClients,
  authError,
  BROKER_HOST_DEFAULT,
  type BrokerOptions,
  type ClientWithFlags,
  CONNACK_IDENTIFIER_REJECTED,
  listen,
  POLICY_VIOLATION_REASON,
  type Principal,
  RESERVED_PUBLISH_PREFIXES,
  type RunningBroker,
  type Session,
  sha256Hex,
  WS_CLOSE_ABNORMAL,
} from "./broker-setup.js";
import {
  connectedEvent,
  connectFailedEvent,
  type DisconnectReason,
  disconnectedEvent,
  hasLifecycleEvents,
  type LifecycleEvent,
} from "./lifecycle.js";
import { clientIdLimitViolation, publishLimitViolation, QOS_MAX, topicLimitViolation } from "./limits.js";
import { type Decision, evaluate, type IotAction, iotResourceArn, type ResourceKind } from "./policy.js";

const log = createDebug("provision:local-iot:broker");

export {
  BROKER_HOST_DEFAULT,
  type BrokerOptions,
  POLICY_VIOLATION_REASON,
  type RunningBroker,
} from "./broker-setup.js";

export async function startBroker(store: StoreView, opts: BrokerOptions): Promise<RunningBroker> {
  const host = opts.host ?? BROKER_HOST_DEFAULT;
  const serverCertPem = opts.serverCertPem ?? opts.serverCert;
  const serverKeyPem = opts.serverKeyPem ?? opts.serverKey;
  if (!serverCertPem)
    throw new TypeError("startBroker: serverCertPem (the broker's TLS certificate, PEM) is required");
  if (!serverKeyPem)
    throw new TypeError("startBroker: serverKeyPem (the broker's TLS private key, PEM) is required");
  if (!opts.caPem)
    throw new TypeError("startBroker: caPem (the CA that issued device certificates) is required");
  const region = opts.region ?? store.region;
  const sessions = new WeakMap<Client, Session>();
  const live = new Set<Client>();
  /** Principals of WebSocket streams, set at upgrade before aedes sees the stream. */
  const iamStreams = new WeakMap<Duplex, { accessKeyId: string; ipAddress: string }>();
  /** WebSocket streams whose client sent a Close frame: AWS counts that as a client-initiated disconnect. */
  const closeFrameStreams = new WeakSet<Duplex>();
  const versionByClientId = new Map<string, number>();
  let closing = false;

  function arn(kind: ResourceKind, name: string): string {
    return iotResourceArn(store.region, store.accountId, kind, name);
  }

  function decide(session: Session, action: IotAction, kind: ResourceKind, name: string): Decision {
    if (session.principal.kind === "iam") return { allowed: true, reason: "allow" };
    const { certificateArn } = session.principal;
    return evaluate(store.principalPolicies(certificateArn), action, arn(kind, name), {
      clientId: session.clientId,
      attachedThings: store.principalThings(certificateArn),
    });
  }

  function publishEvent(ev: LifecycleEvent): void {
    if (closing) return;
    const packet = {
      cmd: "publish",
      topic: ev.topic,
      payload: Buffer.from(JSON.stringify(ev.payload)),
      qos: 1,
      retain: false,
      dup: false,
    } as PublishPacket;
    broker.publish(packet, (err) => {
      if (err) log("lifecycle event on %s not published: %s", ev.topic, err.message);
    });
  }

  function remoteAddress(conn: Duplex): string {
    const iam = iamStreams.get(conn);
    if (iam) return iam.ipAddress;
    return (conn as Socket).remoteAddress ?? "";
  }

  /** Who is on the other end of the connection, or why nobody acceptable is. */
  function principalOf(conn: Duplex): Principal | { refused: string; principalIdentifier?: string } {
    const iam = iamStreams.get(conn);
    if (iam) return { kind: "iam", accessKeyId: iam.accessKeyId };
    const peer = (conn as TLSSocket).getPeerCertificate?.(false);
    const der = peer?.raw;
    if (!der || der.length === 0) return { refused: "no client certificate on the connection" };
    const certificateId = sha256Hex(der);
    const record = store.getCertificate(certificateId);
    if (!record)
      return {
        refused: `certificate ${certificateId} is not registered`,
        principalIdentifier: certificateId,
      };
    if (record.status !== "ACTIVE") {
      return {
        refused: `certificate ${certificateId} is ${record.status}`,
        principalIdentifier: certificateId,
      };
    }
    return { kind: "certificate", certificateId, certificateArn: record.certificateArn };
  }

  const broker = (await Aedes.createBroker({
    // AWS IoT allows client ids up to 128 bytes; aedes' default (23) only binds MQTT 3.1.
    maxClientsIdLength: 128,
    authenticate(client, _username, _password, done) {
      const clientId = client.id;
      const ipAddress = remoteAddress(client.conn);
      const idProblem = clientIdLimitViolation(clientId);
      if (idProblem) return done(authError(idProblem, CONNACK_IDENTIFIER_REJECTED), false);
      const who = principalOf(client.conn);
      if ("refused" in who) {
        log("CONNECT %s refused: %s", clientId, who.refused);
        if (hasLifecycleEvents(clientId))
          publishEvent(connectFailedEvent(clientId, who.principalIdentifier, ipAddress, Date.now()));
        return done(authError(who.refused), false);
      }
      const session: Session = {
        principal: who,
        clientId,
        sessionIdentifier: randomUUID().replaceAll("-", ""),
        principalIdentifier: who.kind === "certificate" ? who.certificateId : who.accessKeyId,
        ipAddress,
        versionNumber: 0,
        announced: false,
      };
      const decision = decide(session, "iot:Connect", "client", clientId);
      if (!decision.allowed) {
        log("CONNECT %s refused by policy (%s)", clientId, decision.reason);
        if (hasLifecycleEvents(clientId)) {
          publishEvent(connectFailedEvent(clientId, session.principalIdentifier, ipAddress, Date.now()));
        }
        return done(authError(`iot:Connect on client/${clientId} not allowed (${decision.reason})`), false);
      }
      // The newer connection wins (MQTT 3.1.4-2, and AWS): aedes closes the older one on registration.
      const older = (broker as AedesWithClients).clients[clientId];
      if (older && older !== client) {
        const olderSession = sessions.get(older);
        if (olderSession && !olderSession.reason) olderSession.reason = "DUPLICATE_CLIENTID";
      }
      sessions.set(client, session);
      live.add(client);
      client.conn.once("close", () => live.delete(client));
      done(null, true);
    },

    authorizePublish(client, packet, done) {
      const session = client ? sessions.get(client) : undefined;
      if (!client || !session) return done(new Error("publish from an unauthenticated client"));
      const topic = packet.topic;
      const limitProblem = publishLimitViolation(topic, Buffer.byteLength(packet.payload ?? ""), packet.qos);
      if (limitProblem) {
        if (!client.closed && !session.reason) session.reason = "CLIENT_ERROR";
        log("PUBLISH %s on %s refused: %s", session.clientId, topic, limitProblem);
        return done(new Error(limitProblem));
      }
      const reserved = RESERVED_PUBLISH_PREFIXES.some((p) => topic.startsWith(p));
      const decision = reserved ? undefined : decide(session, "iot:Publish", "topic", topic);
      if (decision?.allowed) return done(null);
      // A will published while the client closes must not change why it closed.
      if (!client.closed && !session.reason) session.reason = POLICY_VIOLATION_REASON;
      log(
        "PUBLISH %s on %s refused (%s): disconnecting",
        session.clientId,
        topic,
        decision?.reason ?? "reserved topic",
      );
      // An error here makes aedes drop the connection, as AWS does for a forbidden publish.
      done(new Error(`iot:Publish on topic/${topic} not allowed for ${session.clientId}`));
    },

    authorizeSubscribe(client, sub: Subscription, done) {
      const session = sessions.get(client);
      const allowed =
        session !== undefined &&
        !sub.topic.startsWith(AEDES_SYS_PREFIX) &&
        topicLimitViolation(sub.topic) === undefined &&
        decide(session, "iot:Subscribe", "topicfilter", sub.topic).allowed;
      if (!allowed) log("SUBSCRIBE %s to %s refused", client.id, sub.topic);
      // null = failure code 0x80 in SUBACK; the connection stays up.
      if (!allowed) return done(null, null);
      // AWS downgrades QoS 2 subscriptions to 1. (aedes still writes the requested QoS in SUBACK.)
      done(null, sub.qos > QOS_MAX ? { ...sub, qos: QOS_MAX as 1 } : sub);
    },

    authorizeForward(client, packet: AedesPublishPacket) {
      const session = sessions.get(client);
      if (!session || packet.topic.startsWith(AEDES_SYS_PREFIX)) return null;
      return decide(session, "iot:Receive", "topic", packet.topic).allowed ? packet : null;
    },
  })) as AedesWithClients;

  // "client" = registered, after an older holder of the id was closed and before CONNACK is written: a
  // client cannot act on its CONNACK before this, and every "clientDisconnect" has a "client" before it.
  broker.on("client", (client) => {
    const session = sessions.get(client);
    if (!session) return;
    session.versionNumber = (versionByClientId.get(session.clientId) ?? 0) + 1;
    versionByClientId.set(session.clientId, session.versionNumber);
    session.announced = true;
    log("client %s connected (%s)", session.clientId, session.principalIdentifier);
    if (hasLifecycleEvents(session.clientId)) publishEvent(connectedEvent(session, Date.now()));
  });

  broker.on("keepaliveTimeout", (client) => {
    const session = sessions.get(client);
    if (session && !session.reason) session.reason = "MQTT_KEEP_ALIVE_TIMEOUT";
  });

  broker.on("clientError", (client, err) => {
    const session = sessions.get(client);
    if (!session || session.reason) return;
    const code = (err as NodeJS.ErrnoException).code;
    session.reason =
      code === "ECONNRESET" || code === "EPIPE" || code === "ETIMEDOUT" ? "CONNECTION_LOST" : "CLIENT_ERROR";
    log("client %s error: %s", client.id, err.message);
  });

  broker.on("clientDisconnect", (client) => {
    const session = sessions.get(client);
    live.delete(client);
    if (!session?.announced) return;
    const byClient = (client as ClientWithFlags)._disconnected || closeFrameStreams.has(client.conn);
    const reason: DisconnectReason =
      session.reason ?? (byClient ? "CLIENT_INITIATED_DISCONNECT" : "CONNECTION_LOST");
    log("client %s disconnected: %s", session.clientId, reason);
    if (hasLifecycleEvents(session.clientId)) publishEvent(disconnectedEvent(session, reason, Date.now()));
  });

  /** A certificate that is no longer ACTIVE (or gone) loses its live connections. */
  const unsubscribeRegistry = store.onChange(() => {
    for (const client of [...live]) {
      const session = sessions.get(client);
      if (session?.principal.kind !== "certificate" || client.closed) continue;
      const record = store.getCertificate(session.principal.certificateId);
      if (record?.status === "ACTIVE") continue;
      log(
        "certificate %s now %s: disconnecting %s",
        session.principal.certificateId,
        record?.status ?? "deleted",
        client.id,
      );
      if (!session.reason) session.reason = POLICY_VIOLATION_REASON;
      client.close();
    }
  });

  // Devices: MQTT over mutual TLS. A certificate from another CA fails the handshake here.
  const sockets = new Set<Socket>();
  const tlsServer = createTlsServer(
    {
      requestCert: true,
      rejectUnauthorized: true,
      ca: opts.caPem,
      key: serverKeyPem,
      cert: serverCertPem,
      minVersion: "TLSv1.2",
    },
    (socket) => broker.handle(socket),
  );
  tlsServer.on("connection", (s: Socket) => {
    sockets.add(s);
    s.once("close", () => sockets.delete(s));
  });
  tlsServer.on("tlsClientError", (err) => log("TLS handshake refused: %s", err.message));

  // Observers: MQTT over WebSocket on TLS, admitted by a SigV4 presigned URL.
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });
  const httpsServer = createHttpsServer(
    { key: serverKeyPem, cert: serverCertPem, minVersion: "TLSv1.2" },
    (_req, res) => {
      res
        .writeHead(426, { "content-type": "text/plain" })
        .end("MQTT over WebSocket only: GET /mqtt with Upgrade\n");
    },
  );
  httpsServer.on("connection", (s: Socket) => {
    sockets.add(s);
    s.once("close", () => sockets.delete(s));
  });
  httpsServer.on("upgrade", (req, socket: Duplex, head: Buffer) => {
    const url = req.url ?? "/";
    verifyPresignedUpgrade({ url, headers: req.headers }, { credentials: opts.credentials, region }).then(
      (verdict) => {
        if (!verdict.ok) {
          log("WebSocket upgrade refused (%d): %s", verdict.status, verdict.reason);
          const text = verdict.status === 404 ? "Not Found" : "Forbidden";
          socket.end(`HTTP/1.1 ${verdict.status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
          return;
        }
        wss.handleUpgrade(req, socket, head, (ws) => {
          let stream: Duplex | undefined;
          // Registered before the stream's own listener, which ends the stream on the same event.
          ws.once("close", (code: number) => {
            if (stream && code !== WS_CLOSE_ABNORMAL) closeFrameStreams.add(stream);
          });
          stream = createWebSocketStream(ws);
          iamStreams.set(stream, {
            accessKeyId: verdict.accessKeyId,
            ipAddress: req.socket.remoteAddress ?? "",
          });
          broker.handle(stream, req);
        });
      },
      (err: Error) => {
        log("WebSocket upgrade failed: %s", err.message);
        socket.destroy();
      },
    );
  });

  let mqttsPort: number;
  let wssPort: number;
  try {
    mqttsPort = await listen(tlsServer, host, opts.mqttsPort ?? 0);
    wssPort = await listen(httpsServer, host, opts.wssPort ?? 0);
  } catch (e) {
    unsubscribeRegistry();
    tlsServer.close();
    httpsServer.close();
    await new Promise<void>((r) => broker.close(() => r()));
    const err = e as NodeJS.ErrnoException;
    throw new ProvisionError("CONFIG", `local MQTT broker cannot listen: ${err.message}`, {
      where: `${host} mqtts:${opts.mqttsPort ?? 0} wss:${opts.wssPort ?? 0}`,
      hint: err.code === "EADDRINUSE" ? "choose other ports, or 0 for ephemeral ones" : undefined,
      cause: e,
    });
  }
  log("listening: mqtts://%s:%d wss://%s:%d/mqtt", host, mqttsPort, host, wssPort);

  async function close(): Promise<void> {
    if (closing) return;
    for (const client of live) {
      const session = sessions.get(client);
      if (session && !session.reason) session.reason = "SERVER_INITIATED_DISCONNECT";
    }
    closing = true;
    unsubscribeRegistry();
    const tlsClosed = new Promise<void>((r) => tlsServer.close(() => r()));
    const httpsClosed = new Promise<void>((r) => httpsServer.close(() => r()));
    await new Promise<void>((r) => broker.close(() => r()));
    for (const ws of wss.clients) ws.terminate();
    wss.close();
    for (const s of sockets) s.destroy();
    await Promise.all([tlsClosed, httpsClosed]);
  }

  return { mqttsPort, wssPort, close };
}
