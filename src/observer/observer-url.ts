/**
 * Presigned WSS URLs for the observer, against AWS (credentials from the
 * standard chain) or the local AWS IoT, using the broker module's presigner.
 */
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from "@smithy/types";
import { presignMqttUrl } from "../cloud/sigv4-mqtt-url.js";

export const AWS_WSS_PORT = 443;

export interface ObserverUrlOptions {
  /** The ATS data endpoint (DescribeEndpoint iot:Data-ATS) or the local IoT's host. */
  host: string;
  /** 443 on AWS; the local IoT's wssPort. */
  port?: number;
  region: string;
  credentials: AwsCredentialIdentity | AwsCredentialIdentityProvider;
  expiresSec?: number;
}

/** A function that presigns a fresh URL each call: pass it as ObserverOptions.url. */
export function presignedObserverUrl(options: ObserverUrlOptions): () => Promise<string> {
  return async () => {
    const creds =
      typeof options.credentials === "function" ? await options.credentials() : options.credentials;
    return presignMqttUrl({
      host: options.host,
      port: options.port ?? AWS_WSS_PORT,
      region: options.region,
      credentials: {
        accessKeyId: creds.accessKeyId,
        secretAccessKey: creds.secretAccessKey,
        sessionToken: creds.sessionToken,
      },
      expiresSec: options.expiresSec,
    });
  };
}
