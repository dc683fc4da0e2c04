import { describe, expect, it } from "vitest";
import {
  CLIENT_ID_MAX_BYTES,
  clientIdLimitViolation,
  PAYLOAD_MAX_BYTES,
  publishLimitViolation,
  TOPIC_MAX_BYTES,
  topicLimitViolation,
} from "./limits.js";

describe("AWS IoT message broker limits", () => {
  it("allows 7 slashes and refuses 8, except under $aws/", () => {
    expect(topicLimitViolation("a/b/c/d/e/f/g/h")).toBeUndefined();
    expect(topicLimitViolation("a/b/c/d/e/f/g/h/i")).toMatch(/8 slashes/);
    expect(topicLimitViolation("$aws/things/t/shadow/name/n/update/accepted/x")).toBeUndefined();
  });

  it("counts topic length in UTF-8 bytes", () => {
    expect(topicLimitViolation("x".repeat(TOPIC_MAX_BYTES))).toBeUndefined();
    expect(topicLimitViolation("x".repeat(TOPIC_MAX_BYTES + 1))).toMatch(/257 bytes/);
    // 128 two-byte characters = 256 bytes; one more is over
    expect(topicLimitViolation("é".repeat(128))).toBeUndefined();
    expect(topicLimitViolation("é".repeat(129))).toMatch(/258 bytes/);
  });

  it("refuses QoS 2 and payloads over 128 KiB", () => {
    expect(publishLimitViolation("t", PAYLOAD_MAX_BYTES, 1)).toBeUndefined();
    expect(publishLimitViolation("t", PAYLOAD_MAX_BYTES + 1, 0)).toMatch(/131073 bytes/);
    expect(publishLimitViolation("t", 1, 2)).toMatch(/QoS 2/);
  });

  it("limits client ids to 128 bytes", () => {
    expect(clientIdLimitViolation("c".repeat(CLIENT_ID_MAX_BYTES))).toBeUndefined();
    expect(clientIdLimitViolation("c".repeat(CLIENT_ID_MAX_BYTES + 1))).toMatch(/129 bytes/);
  });
});
