/**
 * createAwsRegistry: the AWS registry with its SDK clients, after the
 * region is resolved (a missing region is a CONFIG error, not a failure on
 * the first call).
 */
import { IoTClient, type IoTClientConfig } from "@aws-sdk/client-iot";
import { fromNodeProviderChain } from "@aws-sdk/credential-providers";
import { ProvisionError } from "../errors.js";
import { type AwsRegistryOptions, envInt, MAX_ATTEMPTS_DEFAULT, RETRY_MODE_DEFAULT } from "./aws-client.js";
import { AwsCloudRegistry } from "./aws-registry.js";

/** Builds the client and resolves the region (throws CONFIG when none is configured). */
export async function createAwsRegistry(options: AwsRegistryOptions = {}): Promise<AwsCloudRegistry> {
  const credentials =
    options.credentials ?? fromNodeProviderChain(options.profile ? { profile: options.profile } : {});
  const config: IoTClientConfig = {
    credentials,
    maxAttempts: options.maxAttempts ?? envInt("AWS_MAX_ATTEMPTS") ?? MAX_ATTEMPTS_DEFAULT,
    retryMode: options.retryMode ?? process.env.AWS_RETRY_MODE ?? RETRY_MODE_DEFAULT,
  };
  if (options.region !== undefined) config.region = options.region;
  if (options.profile !== undefined) config.profile = options.profile;
  if (options.endpoint !== undefined) config.endpoint = options.endpoint;
  if (options.requestHandler !== undefined) config.requestHandler = options.requestHandler;
  const client = new IoTClient(config);
  const certificateClient = new IoTClient({ ...config, maxAttempts: 1 });
  let region: string;
  try {
    region = await client.config.region();
  } catch (e) {
    client.destroy();
    certificateClient.destroy();
    throw new ProvisionError("CONFIG", `no AWS region configured: ${(e as Error).message}`, {
      hint: "pass --region, set AWS_REGION, or set region in the AWS profile",
      cause: e,
    });
  }
  const endpoint =
    options.endpoint ??
    process.env.AWS_ENDPOINT_URL_IOT ??
    process.env.AWS_ENDPOINT_URL ??
    `https://iot.${region}.amazonaws.com`;
  return new AwsCloudRegistry(client, certificateClient, region, endpoint, options);
}
