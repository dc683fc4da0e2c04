import mqtt, { type IClientOptions, type MqttClient } from "mqtt";
import { ProvisionError } from "../errors.js";

export function connectError(e: unknown, where: string): ProvisionError {
  if (e instanceof ProvisionError) return e;
  const msg = (e as Error)?.message ?? String(e);
  const code = (e as { code?: string })?.code;
  if (
    /Unexpected server response: 40[13]/.test(msg) ||
    /Not authorized|Bad username or password/i.test(msg)
  ) {
    return new ProvisionError("CLOUD_ACCESS_DENIED", `the service refused the observer connection: ${msg}`, {
      where,
      hint: "the observer's credentials must allow iot:Connect (and be fresh: a presigned URL expires); see docs/aws.md",
      cause: e,
    });
  }
  return new ProvisionError("CLOUD_UNREACHABLE", `observer cannot connect to ${where}: ${code ?? msg}`, {
    where,
    hint: "check the network and the data endpoint (DescribeEndpoint iot:Data-ATS)",
    cause: e,
  });
}

export function describeUrl(url: string): string {
  // The query of a presigned URL holds the signature and the session token: never show it.
  const q = url.indexOf("?");
  return q >= 0 ? url.slice(0, q) : url;
}

/**
 * mqtt.connectAsync never settles when a WebSocket upgrade is refused (the
 * error goes to the stream only and the client just closes), so this listens
 * to both and to "close", with its own deadline.
 */
export function connectOnce(url: string, options: IClientOptions, timeoutMs: number): Promise<MqttClient> {
  return new Promise((resolve, reject) => {
    const client = mqtt.connect(url, options);
    let lastError: Error | undefined;
    const fail = (e: Error) => {
      cleanup();
      client.end(true);
      reject(e);
    };
    const onError = (e: Error) => {
      lastError = e;
      // A CONNACK refusal (bad credentials on mqtts) is final.
      if ((e as { code?: unknown }).code !== undefined && typeof (e as { code?: unknown }).code === "number")
        fail(e);
    };
    const onClose = () => fail(lastError ?? new Error("connection closed before CONNACK"));
    const onConnect = () => {
      cleanup();
      resolve(client);
    };
    const timer = setTimeout(
      () => fail(lastError ?? new Error(`no CONNACK within ${timeoutMs} ms`)),
      timeoutMs,
    );
    const cleanup = () => {
      clearTimeout(timer);
      client.off("connect", onConnect);
      client.off("error", onError);
      client.off("close", onClose);
      client.stream?.off?.("error", onError);
    };
    client.on("connect", onConnect);
    client.on("error", onError);
    client.on("close", onClose);
    client.stream?.on?.("error", onError);
  });
}

/** Connects and resolves once the service accepted the observer (CONNACK). */
