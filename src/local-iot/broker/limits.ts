/**
 * AWS IoT Core message-broker limits a device firmware can run into, checked
 * locally so a dry run fails where AWS would. Pure. Values: AWS IoT Core
 * quotas, "Message broker and protocol limits".
 */

/** Largest PUBLISH payload AWS accepts; larger ones disconnect the client. */
export const PAYLOAD_MAX_BYTES = 128 * 1024;
/** Topic names and filters, UTF-8 bytes. */
export const TOPIC_MAX_BYTES = 256;
/** Forward slashes in a topic or filter, not counting a reserved `$aws/...` prefix. */
export const TOPIC_MAX_SLASHES = 7;
/** Client id, UTF-8 bytes. */
export const CLIENT_ID_MAX_BYTES = 128;
/** AWS IoT speaks QoS 0 and 1 only. */
export const QOS_MAX = 1;

function slashes(topic: string): number {
  // Reserved topics have long fixed prefixes that AWS does not count; the local broker exempts them wholesale.
  if (topic.startsWith("$aws/")) return 0;
  return topic.split("/").length - 1;
}

/** Why AWS would refuse this topic or filter, or undefined when it is within the limits. */
export function topicLimitViolation(topic: string): string | undefined {
  const bytes = Buffer.byteLength(topic, "utf8");
  if (bytes > TOPIC_MAX_BYTES) return `topic is ${bytes} bytes, AWS IoT allows ${TOPIC_MAX_BYTES}`;
  const n = slashes(topic);
  if (n > TOPIC_MAX_SLASHES) return `topic has ${n} slashes, AWS IoT allows ${TOPIC_MAX_SLASHES}`;
  return undefined;
}

export function publishLimitViolation(topic: string, payloadBytes: number, qos: number): string | undefined {
  if (qos > QOS_MAX) return `QoS ${qos} publish; AWS IoT supports QoS 0 and 1 only`;
  if (payloadBytes > PAYLOAD_MAX_BYTES)
    return `payload is ${payloadBytes} bytes, AWS IoT allows ${PAYLOAD_MAX_BYTES}`;
  return topicLimitViolation(topic);
}

export function clientIdLimitViolation(clientId: string): string | undefined {
  const bytes = Buffer.byteLength(clientId, "utf8");
  return bytes > CLIENT_ID_MAX_BYTES
    ? `client id is ${bytes} bytes, AWS IoT allows ${CLIENT_ID_MAX_BYTES}`
    : undefined;
}
