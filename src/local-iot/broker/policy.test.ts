import { describe, expect, it } from "vitest";
import { developerGuidePolicy } from "../../registry/developer-guide-policy.test-helper.js";
import { evaluate, type IotAction, iotResourceArn, matchesPattern, type PolicyContext } from "./policy.js";

const REGION = "eu-west-1";
const ACCOUNT = "123456789012";
const arn = (kind: "client" | "topic" | "topicfilter", name: string) =>
  iotResourceArn(REGION, ACCOUNT, kind, name);

/** The least-privilege policy of the AWS IoT Developer Guide, verbatim shape. */
const LEAST_PRIVILEGE = JSON.stringify(developerGuidePolicy(REGION, ACCOUNT));

function policy(...statements: object[]) {
  return {
    policyName: "p",
    policyDocument: JSON.stringify({ Version: "2012-10-17", Statement: statements }),
  };
}

const attached: PolicyContext = { clientId: "sensor-1", attachedThings: ["sensor-1"] };
const notAttached: PolicyContext = { clientId: "sensor-1", attachedThings: ["other"] };

function allowed(
  docs: { policyName: string; policyDocument: string }[],
  a: IotAction,
  r: string,
  c: PolicyContext,
) {
  return evaluate(docs, a, r, c).allowed;
}

describe("least-privilege policy", () => {
  const docs = [{ policyName: "lp", policyDocument: LEAST_PRIVILEGE }];

  it("lets the thing connect with its own name as client id only", () => {
    expect(allowed(docs, "iot:Connect", arn("client", "sensor-1"), attached)).toBe(true);
    // client id differs from every attached thing: the variable is unresolved, nothing matches
    const other = { clientId: "sensor-2", attachedThings: ["sensor-1"] };
    expect(allowed(docs, "iot:Connect", arn("client", "sensor-2"), other)).toBe(false);
    expect(allowed(docs, "iot:Connect", arn("client", "sensor-1"), notAttached)).toBe(false);
  });

  it("allows publish and receive below the thing's own topic, not elsewhere", () => {
    expect(allowed(docs, "iot:Publish", arn("topic", "sensor-1/data"), attached)).toBe(true);
    expect(allowed(docs, "iot:Receive", arn("topic", "sensor-1/a/b"), attached)).toBe(true);
    expect(allowed(docs, "iot:Publish", arn("topic", "sensor-2/data"), attached)).toBe(false);
    // the policy says sensor-1/* : the bare "sensor-1" topic is outside it
    expect(allowed(docs, "iot:Publish", arn("topic", "sensor-1"), attached)).toBe(false);
    expect(allowed(docs, "iot:Publish", arn("topic", "sensor-10/data"), attached)).toBe(false);
  });

  it("checks Subscribe against topicfilter/, never topic/", () => {
    expect(allowed(docs, "iot:Subscribe", arn("topicfilter", "sensor-1/#"), attached)).toBe(true);
    expect(allowed(docs, "iot:Subscribe", arn("topicfilter", "sensor-1/+/x"), attached)).toBe(true);
    expect(allowed(docs, "iot:Subscribe", arn("topic", "sensor-1/x"), attached)).toBe(false);
    expect(allowed(docs, "iot:Publish", arn("topicfilter", "sensor-1/x"), attached)).toBe(false);
    expect(allowed(docs, "iot:Subscribe", arn("topicfilter", "#"), attached)).toBe(false);
  });

  it("denies what no statement mentions (default deny)", () => {
    const d = evaluate(docs, "iot:Publish", arn("topic", "elsewhere"), attached);
    expect(d).toEqual({ allowed: false, reason: "implicit-deny" });
    expect(allowed([], "iot:Connect", arn("client", "sensor-1"), attached)).toBe(false);
  });
});

describe("wildcards", () => {
  it("treats * and ? as wildcards, + and # as literal characters", () => {
    const values = new Map<string, string | undefined>();
    expect(matchesPattern("a/*", "a/b/c", values)).toBe(true);
    expect(matchesPattern("a/?", "a/b", values)).toBe(true);
    expect(matchesPattern("a/?", "a/bc", values)).toBe(false);
    expect(matchesPattern("a/+", "a/b", values)).toBe(false);
    expect(matchesPattern("a/+", "a/+", values)).toBe(true);
    expect(matchesPattern("a/#", "a/b/c", values)).toBe(false);
    expect(matchesPattern("a/#", "a/#", values)).toBe(true);
    // regex metacharacters in a pattern are plain text
    expect(matchesPattern("a.b", "axb", values)).toBe(false);
    expect(matchesPattern("(x)[y]", "(x)[y]", values)).toBe(true);
  });

  it("matches wildcard actions case-insensitively and wildcard resources", () => {
    const p = [policy({ Effect: "Allow", Action: "iot:*", Resource: "*" })];
    for (const a of ["iot:Connect", "iot:Publish", "iot:Receive", "iot:Subscribe"] as IotAction[]) {
      expect(allowed(p, a, arn("topic", "x"), attached)).toBe(true);
    }
    const lower = [policy({ Effect: "Allow", Action: "IOT:publish", Resource: arn("topic", "x") })];
    expect(allowed(lower, "iot:Publish", arn("topic", "x"), attached)).toBe(true);
    const q = [policy({ Effect: "Allow", Action: "iot:?ublish", Resource: arn("topic", "x") })];
    expect(allowed(q, "iot:Publish", arn("topic", "x"), attached)).toBe(true);
    expect(allowed(q, "iot:Subscribe", arn("topicfilter", "x"), attached)).toBe(false);
  });

  it("compares resources case-sensitively", () => {
    const p = [policy({ Effect: "Allow", Action: "iot:Publish", Resource: arn("topic", "Sensor/*") })];
    expect(allowed(p, "iot:Publish", arn("topic", "Sensor/a"), attached)).toBe(true);
    expect(allowed(p, "iot:Publish", arn("topic", "sensor/a"), attached)).toBe(false);
  });

  it("accepts Action and Resource as a single string or an array", () => {
    const single = [policy({ Effect: "Allow", Action: "iot:Publish", Resource: arn("topic", "a") })];
    const arr = [
      policy({
        Effect: "Allow",
        Action: ["iot:Receive", "iot:Publish"],
        Resource: [arn("topic", "b"), arn("topic", "a")],
      }),
    ];
    expect(allowed(single, "iot:Publish", arn("topic", "a"), attached)).toBe(true);
    expect(allowed(arr, "iot:Publish", arn("topic", "a"), attached)).toBe(true);
    expect(allowed(arr, "iot:Subscribe", arn("topicfilter", "a"), attached)).toBe(false);
  });

  it("supports NotAction and NotResource", () => {
    const p = [
      policy({ Effect: "Allow", NotAction: "iot:Subscribe", NotResource: arn("topic", "secret/*") }),
    ];
    expect(allowed(p, "iot:Publish", arn("topic", "open"), attached)).toBe(true);
    expect(allowed(p, "iot:Publish", arn("topic", "secret/x"), attached)).toBe(false);
    expect(allowed(p, "iot:Subscribe", arn("topicfilter", "open"), attached)).toBe(false);
  });
});

describe("Deny precedence", () => {
  it("lets an explicit Deny win over any Allow, in any policy and order", () => {
    const allowAll = policy({ Effect: "Allow", Action: "iot:*", Resource: "*" });
    const denyOne = {
      policyName: "deny",
      policyDocument: JSON.stringify({
        Statement: { Effect: "Deny", Action: "iot:Publish", Resource: arn("topic", "sensor-1/forbidden") },
      }),
    };
    for (const docs of [
      [allowAll, denyOne],
      [denyOne, allowAll],
    ]) {
      const d = evaluate(docs, "iot:Publish", arn("topic", "sensor-1/forbidden"), attached);
      expect(d).toEqual({ allowed: false, reason: "explicit-deny", policyName: "deny" });
      expect(allowed(docs, "iot:Publish", arn("topic", "sensor-1/ok"), attached)).toBe(true);
    }
  });
});

describe("policy variables", () => {
  it("substitutes iot:ClientId whether or not a thing is attached", () => {
    const p = [
      policy({ Effect: "Allow", Action: "iot:Connect", Resource: `${arn("client", "")}\${iot:ClientId}` }),
    ];
    expect(allowed(p, "iot:Connect", arn("client", "sensor-1"), notAttached)).toBe(true);
    // the resource asked must be the client id itself
    expect(allowed(p, "iot:Connect", arn("client", "sensor-2"), notAttached)).toBe(false);
  });

  it("substitutes values as literal text, never as wildcards", () => {
    const p = [
      policy({ Effect: "Allow", Action: "iot:Publish", Resource: `${arn("topic", "")}\${iot:ClientId}/x` }),
    ];
    const star = { clientId: "a*", attachedThings: [] };
    expect(allowed(p, "iot:Publish", arn("topic", "a*/x"), star)).toBe(true);
    expect(allowed(p, "iot:Publish", arn("topic", "abc/x"), star)).toBe(false);
  });

  it("supports the star, question-mark and dollar escapes", () => {
    const p = [
      policy({ Effect: "Allow", Action: "iot:Publish", Resource: `${arn("topic", "")}\${*}\${?}\${$}` }),
    ];
    expect(allowed(p, "iot:Publish", arn("topic", "*?$"), attached)).toBe(true);
    expect(allowed(p, "iot:Publish", arn("topic", "ab$"), attached)).toBe(false);
  });

  it("resolves the iot:Connection.Thing.IsAttached variable", () => {
    const p = [
      policy({
        Effect: "Allow",
        Action: "iot:Publish",
        Resource: `${arn("topic", "attached-")}\${iot:Connection.Thing.IsAttached}`,
      }),
    ];
    expect(allowed(p, "iot:Publish", arn("topic", "attached-true"), attached)).toBe(true);
    expect(allowed(p, "iot:Publish", arn("topic", "attached-false"), notAttached)).toBe(true);
    expect(allowed(p, "iot:Publish", arn("topic", "attached-true"), notAttached)).toBe(false);
  });

  it("makes a Deny naming an unresolved variable match nothing (IAM rule)", () => {
    const p = [
      policy({ Effect: "Allow", Action: "iot:Publish", Resource: "*" }),
      policy({
        Effect: "Deny",
        Action: "iot:Publish",
        Resource: `${arn("topic", "")}\${iot:Connection.Thing.ThingName}/*`,
      }),
    ];
    expect(allowed(p, "iot:Publish", arn("topic", "sensor-1/x"), attached)).toBe(false);
    expect(allowed(p, "iot:Publish", arn("topic", "sensor-1/x"), notAttached)).toBe(true);
  });
});

describe("unresolved variables never widen an Allow", () => {
  // IAM: a statement whose variable cannot be resolved may be invalid as a whole; it must never
  // grant more than with the variable resolved.
  it("an Allow with NotResource naming an unresolved variable allows nothing", () => {
    const p = [
      policy({
        Effect: "Allow",
        Action: "iot:Publish",
        NotResource: `${arn("topic", "")}\${iot:Connection.Thing.ThingName}/admin/*`,
      }),
    ];
    expect(allowed(p, "iot:Publish", arn("topic", "sensor-1/data"), attached)).toBe(true);
    expect(allowed(p, "iot:Publish", arn("topic", "sensor-1/admin/x"), attached)).toBe(false);
    // Not attached: the thing name is unknown, so the exclusion cannot be applied.
    expect(allowed(p, "iot:Publish", arn("topic", "sensor-1/admin/x"), notAttached)).toBe(false);
  });

  it("an Allow with a negated condition on an unresolved variable does not apply", () => {
    const p = [
      policy({
        Effect: "Allow",
        Action: "iot:Publish",
        Resource: "*",
        Condition: { StringNotEquals: { "iot:ClientId": `\${iot:Connection.Thing.ThingName}` } },
      }),
    ];
    // Attached: client id equals the thing name, so the condition is false.
    expect(allowed(p, "iot:Publish", arn("topic", "x"), attached)).toBe(false);
    expect(allowed(p, "iot:Publish", arn("topic", "x"), notAttached)).toBe(false);
    const like = [
      policy({
        Effect: "Allow",
        Action: "iot:Publish",
        Resource: "*",
        Condition: { StringNotLike: { "iot:ClientId": `\${iot:Connection.Thing.ThingName}*` } },
      }),
    ];
    expect(allowed(like, "iot:Publish", arn("topic", "x"), notAttached)).toBe(false);
  });
});

describe("conditions", () => {
  const base = { Effect: "Allow", Action: "iot:Connect", Resource: "*" };

  it("evaluates Bool on iot:Connection.Thing.IsAttached", () => {
    const p = [policy({ ...base, Condition: { Bool: { "iot:Connection.Thing.IsAttached": "true" } } })];
    expect(allowed(p, "iot:Connect", arn("client", "sensor-1"), attached)).toBe(true);
    expect(allowed(p, "iot:Connect", arn("client", "sensor-1"), notAttached)).toBe(false);
    const jsonBool = [
      policy({ ...base, Condition: { Bool: { "iot:Connection.Thing.IsAttached": [true] } } }),
    ];
    expect(allowed(jsonBool, "iot:Connect", arn("client", "sensor-1"), attached)).toBe(true);
  });

  it("evaluates StringLike / StringEquals / StringNotEquals and IfExists", () => {
    const like = [policy({ ...base, Condition: { StringLike: { "iot:ClientId": "sensor-*" } } })];
    expect(allowed(like, "iot:Connect", arn("client", "sensor-1"), attached)).toBe(true);
    expect(allowed(like, "iot:Connect", arn("client", "x"), { clientId: "x", attachedThings: [] })).toBe(
      false,
    );
    const eq = [policy({ ...base, Condition: { StringEquals: { "iot:ClientId": ["a", "sensor-1"] } } })];
    expect(allowed(eq, "iot:Connect", arn("client", "sensor-1"), attached)).toBe(true);
    const ne = [policy({ ...base, Condition: { StringNotEquals: { "iot:ClientId": "sensor-1" } } })];
    expect(allowed(ne, "iot:Connect", arn("client", "sensor-1"), attached)).toBe(false);
    // thing name is absent when not attached: positive operators fail, IfExists passes
    const thing = { "iot:Connection.Thing.ThingName": "sensor-1" };
    expect(
      allowed([policy({ ...base, Condition: { StringEquals: thing } })], "iot:Connect", "x", notAttached),
    ).toBe(false);
    expect(
      allowed(
        [policy({ ...base, Condition: { StringEqualsIfExists: thing } })],
        "iot:Connect",
        "x",
        notAttached,
      ),
    ).toBe(true);
    const isNull = [policy({ ...base, Condition: { Null: { "iot:Connection.Thing.ThingName": "true" } } })];
    expect(allowed(isNull, "iot:Connect", "x", notAttached)).toBe(true);
    expect(allowed(isNull, "iot:Connect", "x", attached)).toBe(false);
  });

  it("fails closed on an unknown operator: Allow never applies, Deny always does", () => {
    const unknownAllow = [
      policy({ ...base, Condition: { DateGreaterThan: { "aws:CurrentTime": "2000-01-01" } } }),
    ];
    expect(allowed(unknownAllow, "iot:Connect", "x", attached)).toBe(false);
    const unknownDeny = [
      policy(base),
      policy({
        Effect: "Deny",
        Action: "iot:Connect",
        Resource: "*",
        Condition: { IpAddress: { "aws:SourceIp": "10.0.0.0/8" } },
      }),
    ];
    expect(evaluate(unknownDeny, "iot:Connect", "x", attached).reason).toBe("explicit-deny");
  });
});

describe("malformed documents", () => {
  it("ignores invalid JSON and incomplete statements instead of throwing", () => {
    const docs = [
      { policyName: "bad", policyDocument: "{not json" },
      policy({ Effect: "Allow", Resource: "*" }),
      policy({ Effect: "Maybe", Action: "iot:*", Resource: "*" }),
      policy({ Effect: "Allow", Action: [1, 2], Resource: "*" }),
    ];
    expect(evaluate(docs, "iot:Connect", "x", attached)).toEqual({ allowed: false, reason: "implicit-deny" });
  });
});
