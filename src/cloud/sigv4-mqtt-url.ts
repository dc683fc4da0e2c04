/**
 * Presigned `wss://HOST/mqtt?...` URLs for MQTT over WebSocket with SigV4,
 * the way AWS IoT's device gateway expects them, for the observer against
 * AWS and against the local service alike.
 *
 * AWS IoT wants the session token OUTSIDE the signature: sign without it,
 * then append `&X-Amz-Security-Token=<token>`. A signed token gives HTTP 403
 * (aws-sdk-js #1456); `@smithy/signature-v4`'s presign() would sign it, so the
 * token is withheld from the signer (aws-sdk-js-v3 #3417).
 */
import { Sha256 } from "@aws-crypto/sha256-js";
import { SignatureV4 } from "@smithy/signature-v4";

/** The service name AWS IoT's data plane signs WebSocket upgrades with. */
export const IOT_DEVICE_GATEWAY_SERVICE = "iotdevicegateway";
export const MQTT_WS_PATH = "/mqtt";
/** Long enough to open the connection; mqtt.js reconnects should presign again (transformWsUrl). */
export const PRESIGN_EXPIRES_SEC_DEFAULT = 300;
/** SigV4 allows up to 7 days; AWS IoT closes WebSocket connections after 24 h anyway. */
export const PRESIGN_EXPIRES_SEC_MAX = 604_800;

export interface MqttUrlCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

export interface PresignMqttUrlOptions {
  /** e.g. `abc123-ats.iot.eu-west-1.amazonaws.com` or `127.0.0.1`. */
  host: string;
  /** Omitted or 443: no port in the URL or the signed Host header. */
  port?: number;
  region: string;
  credentials: MqttUrlCredentials;
  expiresSec?: number;
  /** Signing time; now unless given (tests pin it). */
  date?: Date;
}

/** RFC 3986 encoding as SigV4 canonicalizes it (encodeURIComponent leaves !'()* alone). */
export function sigv4UriEncode(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** Host header value as a WebSocket client will send it for this host and port. */
export function hostHeader(host: string, port: number | undefined): string {
  return port === undefined || port === 443 ? host : `${host}:${port}`;
}

export async function presignMqttUrl(opts: PresignMqttUrlOptions): Promise<string> {
  const expiresSec = opts.expiresSec ?? PRESIGN_EXPIRES_SEC_DEFAULT;
  if (!Number.isInteger(expiresSec) || expiresSec < 1 || expiresSec > PRESIGN_EXPIRES_SEC_MAX) {
    throw new TypeError(
      `expiresSec must be an integer from 1 to ${PRESIGN_EXPIRES_SEC_MAX}, got ${expiresSec}`,
    );
  }
  const host = hostHeader(opts.host, opts.port);
  const signer = new SignatureV4({
    service: IOT_DEVICE_GATEWAY_SERVICE,
    region: opts.region,
    // Deliberately without the session token: it must not be signed.
    credentials: {
      accessKeyId: opts.credentials.accessKeyId,
      secretAccessKey: opts.credentials.secretAccessKey,
    },
    sha256: Sha256,
  });
  const signed = await signer.presign(
    {
      method: "GET",
      protocol: "wss:",
      hostname: opts.host,
      port: opts.port,
      path: MQTT_WS_PATH,
      headers: { host },
      query: {},
    },
    { expiresIn: expiresSec, signingDate: opts.date ?? new Date() },
  );
  const query = Object.entries(signed.query ?? {})
    .map(([k, v]) => `${sigv4UriEncode(k)}=${sigv4UriEncode(String(v))}`)
    .sort()
    .join("&");
  const token = opts.credentials.sessionToken;
  const tokenPart = token ? `&X-Amz-Security-Token=${sigv4UriEncode(token)}` : "";
  return `wss://${host}${MQTT_WS_PATH}?${query}${tokenPart}`;
}
