/**
 * AWS IoT lifecycle events as the observer reads them, pure. AWS documents
 * that they may arrive duplicated or out of order; `versionNumber` grows per
 * connection of a client id, which is what puts them back in order.
 */
export const PRESENCE_PREFIX = "$aws/events/presence/";

/** Disconnect reasons that mean the service refused the device; others (CONNECTION_LOST...) the device retries. */
export const REJECTING_DISCONNECT_REASONS: ReadonlySet<string> = new Set([
  "AUTH_ERROR",
  "FORBIDDEN_ACCESS",
  "DUPLICATE_CLIENTID",
  "CLIENT_ERROR",
  "THROTTLED",
]);

export interface LifecycleEvent {
  clientId: string;
  /** connected, disconnected, connect_failed. */
  eventType: string;
  timestamp?: number;
  versionNumber?: number;
  /** disconnectReason, or failureType for connect_failed. */
  disconnectReason?: string;
  principalIdentifier?: string;
  sessionIdentifier?: string;
}

export interface PresenceState {
  /** Events applied, in arrival order, without duplicates. */
  events: LifecycleEvent[];
  /** Highest versionNumber of a connected event; -1 before any. */
  connectedVersion: number;
  connectedAt?: Date;
  /** The rejection that currently stands (not superseded by a newer connection). */
  rejection?: LifecycleEvent;
  /** When each session seen connecting connected (service time, epoch ms). */
  sessionStarts: Map<string, number>;
  /**
   * Epoch ms of a restart: sessions that connected before it belong to the
   * previous boot, and their end (often abrupt, e.g. CLIENT_ERROR) is the
   * restart, not a refusal of the device.
   */
  ignoreSessionsBefore?: number;
}

export function newPresenceState(): PresenceState {
  return { events: [], connectedVersion: -1, sessionStarts: new Map() };
}

/** A rejection that ended a session of the boot before the restart, which the restart itself explains. */
export function fromBeforeRestart(s: PresenceState, e: LifecycleEvent): boolean {
  if (
    s.ignoreSessionsBefore === undefined ||
    e.eventType !== "disconnected" ||
    e.sessionIdentifier === undefined
  )
    return false;
  const start = s.sessionStarts.get(e.sessionIdentifier);
  return start === undefined || start < s.ignoreSessionsBefore;
}

export function parseLifecycle(topic: string, payload: Buffer): LifecycleEvent | undefined {
  if (!topic.startsWith(PRESENCE_PREFIX)) return undefined;
  const [eventTypeFromTopic, ...rest] = topic.slice(PRESENCE_PREFIX.length).split("/");
  let p: Record<string, unknown> = {};
  try {
    p = JSON.parse(payload.toString("utf8")) as Record<string, unknown>;
  } catch {
    // The topic alone names the event and the client; the payload only adds detail.
  }
  const num = (v: unknown) => (typeof v === "number" ? v : undefined);
  const str = (v: unknown) => (typeof v === "string" ? v : undefined);
  return {
    clientId: str(p.clientId) ?? rest.join("/"),
    eventType: str(p.eventType) ?? eventTypeFromTopic ?? "",
    timestamp: num(p.timestamp),
    versionNumber: num(p.versionNumber),
    disconnectReason: str(p.disconnectReason) ?? str(p.failureType),
    principalIdentifier: str(p.principalIdentifier),
    sessionIdentifier: str(p.sessionIdentifier),
  };
}

function sameEvent(a: LifecycleEvent, b: LifecycleEvent): boolean {
  return (
    a.eventType === b.eventType &&
    a.versionNumber === b.versionNumber &&
    a.sessionIdentifier === b.sessionIdentifier &&
    a.timestamp === b.timestamp
  );
}

/** Applies one event; returns false for a duplicate (state unchanged). */
export function applyLifecycle(s: PresenceState, e: LifecycleEvent): boolean {
  if (s.events.some((x) => sameEvent(x, e))) return false;
  s.events.push(e);
  // Without a version (not AWS's format) an event counts as the newest.
  const version = e.versionNumber ?? Number.MAX_SAFE_INTEGER;
  if (e.eventType === "connected") {
    if (e.sessionIdentifier !== undefined && e.timestamp !== undefined)
      s.sessionStarts.set(e.sessionIdentifier, e.timestamp);
    if (version >= s.connectedVersion) {
      s.connectedVersion = version;
      s.connectedAt = e.timestamp !== undefined ? new Date(e.timestamp) : new Date();
      // A newer successful connection supersedes an older rejection.
      if (s.rejection && (s.rejection.versionNumber ?? -1) < version) s.rejection = undefined;
    }
  } else if (e.eventType === "connect_failed") {
    // No session was made, so no versionNumber: a refused CONNECT stands until a newer connection.
    s.rejection = { ...e, versionNumber: e.versionNumber ?? s.connectedVersion };
  } else if (e.eventType === "disconnected" && REJECTING_DISCONNECT_REASONS.has(e.disconnectReason ?? "")) {
    // An old session's rejection arriving late must not fail a device that has connected since; and
    // before any connect was seen the session is one from before the watch (a restarted device's new
    // connection kicks its half-open old one with DUPLICATE_CLIENTID, maybe before "connected" arrives).
    if (s.connectedAt !== undefined && version >= s.connectedVersion && !fromBeforeRestart(s, e))
      s.rejection = e;
  }
  return true;
}
