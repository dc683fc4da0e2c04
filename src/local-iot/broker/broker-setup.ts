/**
 * The broker's settings, constants and small helpers: options, the MQTT
 * return codes and reserved topics it uses, a client's principal and
 * session, listening on a port.
 */
import { createHash } from "node:crypto";
import type { Server as HttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import type { Server as TlsServer } from "node:tls";
import type { Aedes, AuthenticateError, Client } from "aedes";
import type { LocalCredentials } from "../sigv4-verify.js";
import { type DisconnectReason, PRESENCE_PREFIX, type PresenceSession } from "./lifecycle.js";

export const BROKER_HOST_DEFAULT = "127.0.0.1";
/** MQTT CONNECT return codes (MQTT 3.1.1 table 3.1). */
export const CONNACK_IDENTIFIER_REJECTED = 2;
export const CONNACK_NOT_AUTHORIZED = 5;
/**
 * Reason given in the disconnected event when a client is dropped for an
 * action its policy forbids (publish) or because its certificate stopped being
 * ACTIVE. AWS documents AUTH_ERROR as "the client failed to authenticate or
 * authorization failed"; FORBIDDEN_ACCESS as "not allowed to be connected"
 * (e.g. a denied IP address).
 */
export const POLICY_VIOLATION_REASON: DisconnectReason = "AUTH_ERROR";
/** Topics nobody may publish to: AWS reserves lifecycle topics; `$SYS/` is aedes' own. */
export const RESERVED_PUBLISH_PREFIXES = [PRESENCE_PREFIX, "$aws/events/", "$SYS/"];
export const AEDES_SYS_PREFIX = "$SYS";
/** RFC 6455 close code for "no Close frame received" (connection dropped). */
export const WS_CLOSE_ABNORMAL = 1006;

export interface BrokerOptions {
  host?: string;
  /** 0 or omitted = an ephemeral port. */
  mqttsPort?: number;
  /** 0 or omitted = an ephemeral port. */
  wssPort?: number;
  serverCertPem?: string;
  serverKeyPem?: string;
  /** Alias of serverCertPem (the name src/local-iot/service.ts passes). */
  serverCert?: string;
  /** Alias of serverKeyPem. */
  serverKey?: string;
  /** The local CA that issued the device certificates (PEM, may hold several). */
  caPem: string;
  /** The IAM credentials observers sign WebSocket URLs with. */
  credentials: LocalCredentials;
  /** Region observers sign for; defaults to the store's. */
  region?: string;
}

export interface RunningBroker {
  mqttsPort: number;
  wssPort: number;
  close(): Promise<void>;
}

export type Principal =
  | { kind: "certificate"; certificateId: string; certificateArn: string }
  | { kind: "iam"; accessKeyId: string };

export interface Session extends PresenceSession {
  principal: Principal;
  /** Set when the broker decides to drop the client, before it closes. */
  reason?: DisconnectReason;
  announced: boolean;
}

/** aedes keeps its client table on the instance without typing it. */
export type AedesWithClients = Aedes & { clients: Record<string, Client> };
/** aedes marks a client that sent DISCONNECT with this private flag (aedes 1.x lib/handlers/index.js). */
export type ClientWithFlags = Client & { _disconnected?: boolean };

export function authError(message: string, returnCode = CONNACK_NOT_AUTHORIZED): AuthenticateError {
  return Object.assign(new Error(message), { returnCode }) as AuthenticateError;
}

export function sha256Hex(der: Buffer): string {
  return createHash("sha256").update(der).digest("hex");
}

export function listen(server: TlsServer | HttpsServer, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (e: Error) => reject(e);
    server.once("error", onError);
    server.listen(port, host, () => {
      server.off("error", onError);
      resolve((server.address() as AddressInfo).port);
    });
  });
}
