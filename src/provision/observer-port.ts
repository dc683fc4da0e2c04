/**
 * What the pipeline needs from the cloud-side observer: watch one device
 * (client id = thing name) on its topic, subscribed before it restarts, and
 * resolve on its first message. The station shares one Observer (one MQTT
 * connection) among all its pipelines.
 */
export interface FirstMessage {
  topic: string;
  /** Payload as UTF-8 text, e.g. `{"counter": 0}`. */
  payload: string;
  /** Epoch ms when the observer received it. */
  receivedAt: number;
  /** Epoch ms of the device's lifecycle "connected" event, if seen. */
  connectedAt?: number;
  /** Epoch ms when the host asked the device to restart. */
  restartedAt?: number;
}

export interface DeviceWatch {
  /** Rejects with VERIFY_TIMEOUT / VERIFY_REJECTED; `deviceLog` goes into the error. */
  firstMessage(timeoutMs: number, deviceLog?: string[]): Promise<FirstMessage>;
  close(): void;
}

export interface Observer {
  /** Resolves once the subscriptions are acknowledged by the broker. */
  watch(clientId: string, topic: string): Promise<DeviceWatch>;
  close(): Promise<void>;
}
