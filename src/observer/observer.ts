/**
 * The cloud-side watcher (watch before the restart, done at the first
 * counter message: docs/architecture.md): one MQTT connection with
 * its own client id (never a device's: a second connection with the same
 * client id would disconnect the device) that subscribes to each device's
 * topic and lifecycle events BEFORE the device restarts, then reports the
 * device's first message, or why it will not come.
 *
 * Works over a SigV4-presigned WSS URL (AWS and the local AWS IoT) or MQTTS
 * with a client certificate. A station shares one observer for all ports.
 */
import createDebug from "debug";
import type { IClientOptions, MqttClient } from "mqtt";
import { ProvisionError } from "../errors.js";
import { connectError, connectOnce, describeUrl } from "./connect.js";
import {
  applyLifecycle,
  fromBeforeRestart,
  type LifecycleEvent,
  newPresenceState,
  PRESENCE_PREFIX,
  type PresenceState,
  parseLifecycle,
} from "./presence.js";

const debug = createDebug("provision:observer");

export const OBSERVER_CONNECT_TIMEOUT_MS_DEFAULT = 15_000;
export const OBSERVER_KEEPALIVE_SEC_DEFAULT = 30;

export interface ObserverOptions {
  /**
   * `wss://...` (presigned) or `mqtts://host:port`. A function is called
   * again before every reconnect, so a presigned URL never goes stale.
   */
  url: string | (() => Promise<string>);
  /** The observer's own client id; must differ from every device's. */
  clientId: string;
  /** Server CA(s) to trust (the local AWS IoT's CA); default: Node's roots. */
  ca?: string | string[];
  /** For mqtts: the observer's own certificate and key. */
  cert?: string;
  key?: string;
  connectTimeoutMs?: number;
  keepaliveSec?: number;
  /** Refresh interval for a URL function (presigned URLs expire); default 4 min. */
  urlRefreshMs?: number;
}

export interface FirstMessage {
  clientId: string;
  topic: string;
  payload: Buffer;
  /** The payload parsed as JSON, when it is JSON. */
  json?: unknown;
  receivedAt: Date;
  /** When the service reported the device connected (lifecycle event), if seen. */
  connectedAt?: Date;
}

interface Watch extends PresenceState {
  clientId: string;
  topic: string;
  first?: FirstMessage;
  waiters: Set<() => void>;
  subscribed: Promise<void>;
  /** Epoch ms before which a message does not count (the device was not restarted yet). */
  notBefore?: number;
}

function presenceFilter(clientId: string): string {
  return `${PRESENCE_PREFIX}+/${clientId}`;
}

export class Observer {
  readonly clientId: string;
  readonly connectedAt: Date;
  private readonly client: MqttClient;
  private readonly watches = new Map<string, Watch>();
  private readonly topicRefs = new Map<string, number>();
  private readonly refreshTimer: NodeJS.Timeout | undefined;
  private closed = false;

  /** Use createObserver(). */
  constructor(client: MqttClient, clientId: string, refreshTimer: NodeJS.Timeout | undefined) {
    this.client = client;
    this.clientId = clientId;
    this.connectedAt = new Date();
    this.refreshTimer = refreshTimer;
    client.on("message", (topic, payload, packet) => this.onMessage(topic, payload, packet.retain));
  }

  private key(clientId: string, topic: string): string {
    return `${clientId}\u0000${topic}`;
  }

  private async subscribe(filter: string): Promise<void> {
    const refs = this.topicRefs.get(filter) ?? 0;
    this.topicRefs.set(filter, refs + 1);
    if (refs > 0) return;
    let granted: { qos: number; topic: string }[] | undefined;
    try {
      granted = (await this.client.subscribeAsync(filter, { qos: 1 })) as { qos: number; topic: string }[];
    } catch (e) {
      this.topicRefs.set(filter, (this.topicRefs.get(filter) ?? 1) - 1);
      throw new ProvisionError(
        "CLOUD_FAILED",
        `observer could not subscribe to ${filter}: ${(e as Error).message}`,
        {
          where: `observer ${this.clientId}`,
          cause: e,
        },
      );
    }
    if (granted.some((g) => g.qos === 128)) {
      this.topicRefs.set(filter, (this.topicRefs.get(filter) ?? 1) - 1);
      throw new ProvisionError(
        "CLOUD_ACCESS_DENIED",
        `the service refused the observer's subscription to ${filter}`,
        {
          where: `observer ${this.clientId}`,
          hint: "the observer's IAM identity needs iot:Connect, iot:Subscribe and iot:Receive on this topic (docs/aws.md)",
        },
      );
    }
  }

  private async unsubscribe(filter: string): Promise<void> {
    const refs = (this.topicRefs.get(filter) ?? 0) - 1;
    if (refs > 0) {
      this.topicRefs.set(filter, refs);
      return;
    }
    this.topicRefs.delete(filter);
    if (!this.closed) await this.client.unsubscribeAsync(filter).catch(() => undefined);
  }

  /**
   * Starts watching a device: subscribes to its topic and its lifecycle
   * events and resolves once the service confirmed both. Call it before the
   * device restarts. Idempotent per (clientId, topic).
   */
  watch(thingClientId: string, topic: string): Promise<void> {
    if (thingClientId === this.clientId) {
      throw new ProvisionError(
        "USAGE",
        `observer client id ${this.clientId} equals the device's; it would disconnect the device`,
      );
    }
    const k = this.key(thingClientId, topic);
    const existing = this.watches.get(k);
    if (existing) return existing.subscribed;
    const w: Watch = {
      ...newPresenceState(),
      clientId: thingClientId,
      topic,
      waiters: new Set(),
      subscribed: Promise.resolve(),
    };
    w.subscribed = Promise.all([this.subscribe(presenceFilter(thingClientId)), this.subscribe(topic)]).then(
      () => undefined,
    );
    this.watches.set(k, w);
    w.subscribed.catch(() => this.watches.delete(k));
    return w.subscribed;
  }

  /** Stops watching and drops the subscriptions no other watch needs. */
  async unwatch(thingClientId: string, topic: string): Promise<void> {
    const k = this.key(thingClientId, topic);
    const w = this.watches.get(k);
    if (!w) return;
    this.watches.delete(k);
    await w.subscribed.catch(() => undefined);
    await Promise.all([this.unsubscribe(presenceFilter(thingClientId)), this.unsubscribe(topic)]);
  }

  /** Lifecycle events seen for a watched device, in arrival order. */
  eventsOf(thingClientId: string, topic: string): LifecycleEvent[] {
    return [...(this.watches.get(this.key(thingClientId, topic))?.events ?? [])];
  }

  private onMessage(topic: string, payload: Buffer, retained: boolean): void {
    const event = parseLifecycle(topic, payload);
    if (event !== undefined) {
      for (const w of this.watches.values()) if (w.clientId === event.clientId) this.onLifecycle(w, event);
      return;
    }
    // A retained message was published before this watch: it says nothing about this device now.
    if (retained) return;
    for (const w of this.watches.values()) {
      if (w.topic !== topic || w.first !== undefined) continue;
      if (w.notBefore !== undefined && Date.now() < w.notBefore) continue;
      let json: unknown;
      try {
        json = JSON.parse(payload.toString("utf8"));
      } catch {
        json = undefined;
      }
      w.first = {
        clientId: w.clientId,
        topic,
        payload,
        json,
        receivedAt: new Date(),
        connectedAt: w.connectedAt,
      };
      debug("first message from %s on %s", w.clientId, topic);
      for (const wake of w.waiters) wake();
    }
  }

  private onLifecycle(w: Watch, e: LifecycleEvent): void {
    if (!applyLifecycle(w, e)) return;
    debug(
      "lifecycle %s %s %s v%s",
      e.clientId,
      e.eventType,
      e.disconnectReason ?? "",
      e.versionNumber ?? "?",
    );
    for (const wake of w.waiters) wake();
  }

  /**
   * Resolves with the device's first message on the topic (subscribing now
   * if watch() was not called, though then a message sent meanwhile is
   * missed; messages received before `notBefore` do not count). Rejects VERIFY_REJECTED when the service disconnects or refuses
   * the device for a reason it will not get over, VERIFY_TIMEOUT otherwise.
   */
  async waitForFirstMessage(
    thingClientId: string,
    topic: string,
    timeoutMs: number,
    options: { notBefore?: Date } = {},
  ): Promise<FirstMessage> {
    await this.watch(thingClientId, topic);
    const w = this.watches.get(this.key(thingClientId, topic));
    if (!w) throw new ProvisionError("INTERNAL", `observer lost the watch of ${thingClientId}`);
    if (options.notBefore !== undefined) {
      // A device that was already running may publish once more before it restarts: that says nothing new.
      w.notBefore = options.notBefore.getTime();
      if (w.first !== undefined && w.first.receivedAt.getTime() < w.notBefore) w.first = undefined;
      // Nor does the end of a session of the boot before: a device that had just connected when it was
      // told to restart drops that connection (a re-run after a kill verified such a device as refused).
      w.ignoreSessionsBefore = w.notBefore;
      if (w.rejection !== undefined && fromBeforeRestart(w, w.rejection)) w.rejection = undefined;
    }
    const started = Date.now();
    return new Promise<FirstMessage>((resolve, reject) => {
      const check = () => {
        if (w.first !== undefined) {
          done();
          resolve({ ...w.first, connectedAt: w.first.connectedAt ?? w.connectedAt });
        } else if (w.rejection !== undefined) {
          done();
          reject(this.rejectionError(w, w.rejection));
        }
      };
      const timer = setTimeout(() => {
        done();
        // libuv's timer clock is truncated to whole ms, so the callback can run a
        // millisecond before Date.now() says the full wait has passed.
        reject(this.timeoutError(w, Math.max(timeoutMs, Date.now() - started)));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        w.waiters.delete(check);
      };
      w.waiters.add(check);
      check();
    });
  }

  private rejectionError(w: Watch, e: LifecycleEvent): ProvisionError {
    const reason = e.disconnectReason ?? e.eventType;
    const hints: Record<string, string> = {
      AUTH_ERROR:
        "the certificate is not ACTIVE, not attached to the thing, or the policy does not allow this client id or topic; check `provision verify` and the policy",
      FORBIDDEN_ACCESS: "the service refused the connection (policy condition or blocked source address)",
      DUPLICATE_CLIENTID:
        "another connection uses the same client id (thing name); stop it or use another thing name",
      AUTHORIZATION_FAILED:
        "the policy does not allow iot:Connect for this client id, or the certificate is not attached to the thing",
      THROTTLED: "the device exceeded a rate limit of the service",
    };
    return new ProvisionError(
      "VERIFY_REJECTED",
      `the service ${e.eventType === "connect_failed" ? "refused the connection of" : "disconnected"} thing ${w.clientId}: ${reason}`,
      {
        where: `thing ${w.clientId}`,
        hint: hints[reason] ?? "look at the device log and the service's logs",
        details: { reason, principalIdentifier: e.principalIdentifier, topic: w.topic },
      },
    );
  }

  private timeoutError(w: Watch, waitedMs: number): ProvisionError {
    const seen = w.connectedAt
      ? `it connected at ${w.connectedAt.toISOString()} but published nothing on ${w.topic}`
      : "it never connected";
    return new ProvisionError(
      "VERIFY_TIMEOUT",
      `no message from thing ${w.clientId} on ${w.topic} within ${waitedMs} ms: ${seen}`,
      {
        where: `thing ${w.clientId}`,
        hint: w.connectedAt
          ? "check the topic the device publishes to and its publish interval"
          : "check the device's network settings (Wi-Fi), the endpoint and port written to it, and its log",
        details: { waitedMs, topic: w.topic, connected: w.connectedAt !== undefined },
      },
    );
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.refreshTimer) clearInterval(this.refreshTimer);
    await this.client.endAsync(true).catch(() => undefined);
  }
}

export async function createObserver(options: ObserverOptions): Promise<Observer> {
  let currentUrl = typeof options.url === "string" ? options.url : await options.url();
  const where = describeUrl(currentUrl);
  const connectTimeoutMs = options.connectTimeoutMs ?? OBSERVER_CONNECT_TIMEOUT_MS_DEFAULT;
  const mqttOptions: IClientOptions = {
    clientId: options.clientId,
    protocolVersion: 4,
    clean: true,
    keepalive: options.keepaliveSec ?? OBSERVER_KEEPALIVE_SEC_DEFAULT,
    connectTimeout: connectTimeoutMs,
    reconnectPeriod: 0,
  };
  if (options.ca !== undefined) mqttOptions.ca = options.ca;
  if (options.cert !== undefined) mqttOptions.cert = options.cert;
  if (options.key !== undefined) mqttOptions.key = options.key;
  let refreshTimer: NodeJS.Timeout | undefined;
  if (typeof options.url === "function") {
    const provider = options.url;
    mqttOptions.transformWsUrl = () => currentUrl;
    refreshTimer = setInterval(() => {
      provider().then(
        (u) => {
          currentUrl = u;
        },
        (e) => debug("presigned URL refresh failed: %s", (e as Error).message),
      );
    }, options.urlRefreshMs ?? 240_000);
    refreshTimer.unref();
  }
  let client: MqttClient;
  try {
    client = await connectOnce(currentUrl, mqttOptions, connectTimeoutMs);
  } catch (e) {
    if (refreshTimer) clearInterval(refreshTimer);
    throw connectError(e, where);
  }
  // After the first CONNACK, reconnect on loss: subscriptions are restored by mqtt.js (resubscribe).
  client.options.reconnectPeriod = 1000;
  client.on("error", (e) => debug("observer error: %s", e.message));
  return new Observer(client, options.clientId, refreshTimer);
}
