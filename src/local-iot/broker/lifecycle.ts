/**
 * AWS IoT lifecycle events (presence): topics and payloads, pure.
 * Field names and reasons follow the AWS IoT developer guide, "Lifecycle
 * events"; an observer must tolerate duplicates and reordering there, and
 * may rely on `versionNumber` growing per client id.
 */

export const PRESENCE_PREFIX = "$aws/events/presence/";

/** AWS's documented disconnect reasons (the subset this broker can produce is marked in docs/local-iot.md). */
export type DisconnectReason =
  | "AUTH_ERROR"
  | "CLIENT_INITIATED_DISCONNECT"
  | "CLIENT_ERROR"
  | "CONNECTION_LOST"
  | "DUPLICATE_CLIENTID"
  | "FORBIDDEN_ACCESS"
  | "MQTT_KEEP_ALIVE_TIMEOUT"
  | "SERVER_ERROR"
  | "SERVER_INITIATED_DISCONNECT"
  | "THROTTLED"
  | "WEBSOCKET_TTL_EXPIRATION";

export interface PresenceSession {
  clientId: string;
  /** 32 hex digits, one per connection. */
  sessionIdentifier: string;
  /** Certificate id for certificate principals; the access key id for SigV4 ones. */
  principalIdentifier: string;
  ipAddress: string;
  /** Grows by one per connection of the same client id. */
  versionNumber: number;
}

export interface LifecycleEvent {
  topic: string;
  payload: Record<string, unknown>;
}

/** AWS sends no lifecycle events for client ids holding MQTT wildcards (they cannot be topic levels). */
export function hasLifecycleEvents(clientId: string): boolean {
  return clientId.length > 0 && !/[#+]/.test(clientId);
}

export function connectedEvent(s: PresenceSession, timestampMs: number): LifecycleEvent {
  return {
    topic: `${PRESENCE_PREFIX}connected/${s.clientId}`,
    payload: {
      clientId: s.clientId,
      timestamp: timestampMs,
      eventType: "connected",
      sessionIdentifier: s.sessionIdentifier,
      principalIdentifier: s.principalIdentifier,
      ipAddress: s.ipAddress,
      versionNumber: s.versionNumber,
    },
  };
}

export function disconnectedEvent(
  s: PresenceSession,
  reason: DisconnectReason,
  timestampMs: number,
): LifecycleEvent {
  return {
    topic: `${PRESENCE_PREFIX}disconnected/${s.clientId}`,
    payload: {
      clientId: s.clientId,
      timestamp: timestampMs,
      eventType: "disconnected",
      sessionIdentifier: s.sessionIdentifier,
      principalIdentifier: s.principalIdentifier,
      clientInitiatedDisconnect: reason === "CLIENT_INITIATED_DISCONNECT",
      disconnectReason: reason,
      versionNumber: s.versionNumber,
    },
  };
}

export type ConnectFailureType = "AUTHORIZATION_FAILED";

/** AWS's "connect attempt failure" event, for a CONNECT refused after TLS succeeded. */
export function connectFailedEvent(
  clientId: string,
  principalIdentifier: string | undefined,
  ipAddress: string,
  timestampMs: number,
): LifecycleEvent {
  const payload: Record<string, unknown> = {
    clientId,
    timestamp: timestampMs,
    eventType: "connect_failed",
    failureType: "AUTHORIZATION_FAILED" satisfies ConnectFailureType,
    ipAddress,
  };
  if (principalIdentifier !== undefined) payload.principalIdentifier = principalIdentifier;
  return { topic: `${PRESENCE_PREFIX}connect_failed/${clientId}`, payload };
}
