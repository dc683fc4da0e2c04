import { describe, expect, it } from "vitest";
import { isProvisionError } from "../errors.js";
import { evaluate, iotResourceArn } from "../local-iot/broker/policy.js";
import { developerGuidePolicy } from "./developer-guide-policy.test-helper.js";
import {
  leastPrivilegePolicy,
  policyWarnings,
  THING_NAME_VARIABLE,
  TOPIC_DEFAULT,
  topicForThing,
} from "./policy.js";

const REGION = "eu-west-1";
const ACCOUNT = "123456789012";

// Decisions come from the local AWS IoT's policy engine (a separate module), not from the template code.
function allowed(
  doc: string,
  action: "iot:Connect" | "iot:Publish" | "iot:Receive" | "iot:Subscribe",
  kind: "client" | "topic" | "topicfilter",
  name: string,
  clientId = "thing-1",
) {
  return evaluate(
    [{ policyName: "p", policyDocument: doc }],
    action,
    iotResourceArn(REGION, ACCOUNT, kind, name),
    {
      clientId,
      attachedThings: ["thing-1"],
    },
  ).allowed;
}

describe("leastPrivilegePolicy", () => {
  it("is the developer guide's shape with REGION and ACCOUNT filled", () => {
    const doc = JSON.parse(leastPrivilegePolicy({ region: REGION, accountId: ACCOUNT }));
    expect(doc).toEqual(developerGuidePolicy(REGION, ACCOUNT));
  });

  it("the default topic is allowed for the thing and nobody else", () => {
    const doc = leastPrivilegePolicy({ region: REGION, accountId: ACCOUNT });
    const topic = topicForThing(TOPIC_DEFAULT, "thing-1");
    expect(topic).toBe("thing-1/counter");
    expect(allowed(doc, "iot:Connect", "client", "thing-1")).toBe(true);
    expect(allowed(doc, "iot:Publish", "topic", topic)).toBe(true);
    expect(allowed(doc, "iot:Subscribe", "topicfilter", topic)).toBe(true);
    expect(allowed(doc, "iot:Receive", "topic", topic)).toBe(true);
    expect(allowed(doc, "iot:Publish", "topic", "thing-2/counter")).toBe(false);
    expect(allowed(doc, "iot:Connect", "client", "thing-2", "thing-2")).toBe(false);
  });

  it("a fixed topic such as the walkthrough's topic_001 is allowed exactly", () => {
    const doc = leastPrivilegePolicy({ region: REGION, accountId: ACCOUNT, topic: "topic_001" });
    expect(allowed(doc, "iot:Publish", "topic", "topic_001")).toBe(true);
    expect(allowed(doc, "iot:Subscribe", "topicfilter", "topic_001")).toBe(true);
    expect(allowed(doc, "iot:Receive", "topic", "topic_001")).toBe(true);
    expect(allowed(doc, "iot:Publish", "topic", "topic_0010")).toBe(false);
    expect(allowed(doc, "iot:Publish", "topic", "topic_001/x")).toBe(false);
    expect(allowed(doc, "iot:Publish", "topic", "thing-1/counter")).toBe(false);
    expect(allowed(doc, "iot:Connect", "client", "thing-1")).toBe(true);
  });

  it("refuses topics that would widen the policy", () => {
    for (const topic of ["a/*", "a/?", "a/+", "a/#", "", `x/${THING_NAME_VARIABLE}`]) {
      try {
        leastPrivilegePolicy({ region: REGION, accountId: ACCOUNT, topic });
        expect.unreachable(`topic ${topic} was accepted`);
      } catch (e) {
        expect(isProvisionError(e, "CONFIG")).toBe(true);
      }
    }
  });
});

describe("policyWarnings (a policy document given instead of the built-in one)", () => {
  it("warns about an Allow of every IoT action on every resource, in any spelling AWS accepts", () => {
    const allowAll = (Action: unknown, Resource: unknown) =>
      JSON.stringify({ Version: "2012-10-17", Statement: { Effect: "Allow", Action, Resource } });
    expect(policyWarnings(allowAll("iot:*", "*"))).toEqual([
      expect.stringMatching(/every IoT action \(iot:\*\) on every resource \(\*\)/),
    ]);
    expect(policyWarnings(allowAll(["*"], ["arn:aws:iot:eu-west-1:123456789012:*"]))).toHaveLength(1);
  });

  it("says nothing about the built-in policy, a narrow document, or a Deny", () => {
    expect(policyWarnings(leastPrivilegePolicy({ region: REGION, accountId: ACCOUNT }))).toEqual([]);
    const narrow = {
      Statement: [{ Effect: "Allow", Action: "iot:*", Resource: `arn:aws:iot:${REGION}:${ACCOUNT}:topic/x` }],
    };
    expect(policyWarnings(JSON.stringify(narrow))).toEqual([]);
    expect(
      policyWarnings(JSON.stringify({ Statement: [{ Effect: "Deny", Action: "*", Resource: "*" }] })),
    ).toEqual([]);
  });
});
