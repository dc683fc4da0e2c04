import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { evaluate, type IotAction, iotResourceArn } from "./policy.js";

const ACTIONS: IotAction[] = ["iot:Connect", "iot:Publish", "iot:Receive", "iot:Subscribe"];
const ctx = { clientId: "c1", attachedThings: ["c1"] };
const arn = (t: string) => iotResourceArn("us-east-1", "123456789012", "topic", t);
/** A topic written into a policy so that it means exactly itself: wildcard characters escaped. */
const escapeForPolicy = (t: string) => t.replace(/[*?$]/g, (c) => `\${${c}}`);
const doc = (...Statement: object[]) => ({ policyName: "p", policyDocument: JSON.stringify({ Statement }) });
const topicChars = fc.string({
  unit: fc.constantFrom("a", "b", "/", "+", "#", "*", "?", "$", "{", "}", ".", "é"),
  maxLength: 20,
});

describe("policy engine properties", () => {
  it("an escaped literal resource allows exactly that topic", () => {
    fc.assert(
      fc.property(topicChars, topicChars, (t, other) => {
        const p = [doc({ Effect: "Allow", Action: "iot:Publish", Resource: arn(escapeForPolicy(t)) })];
        expect(evaluate(p, "iot:Publish", arn(t), ctx).allowed).toBe(true);
        expect(evaluate(p, "iot:Publish", arn(other), ctx).allowed).toBe(other === t);
      }),
    );
  });

  it("prefix/* allows every topic under the prefix and nothing else", () => {
    fc.assert(
      fc.property(topicChars, topicChars, topicChars, (prefix, rest, other) => {
        const p = [
          doc({ Effect: "Allow", Action: "iot:Publish", Resource: `${arn(escapeForPolicy(prefix))}*` }),
        ];
        expect(evaluate(p, "iot:Publish", arn(prefix + rest), ctx).allowed).toBe(true);
        expect(evaluate(p, "iot:Publish", arn(other), ctx).allowed).toBe(other.startsWith(prefix));
      }),
    );
  });

  it("a matching Deny wins whatever Allows surround it", () => {
    const statement = fc.record({
      Effect: fc.constant("Allow"),
      Action: fc.constantFrom<string | string[]>("iot:*", "iot:Publish", ["iot:Receive", "iot:Publish"], "*"),
      Resource: fc.constantFrom<string | string[]>("*", arn("*"), [arn("a/*"), "*"]),
    });
    fc.assert(
      fc.property(
        fc.array(statement, { maxLength: 6 }),
        fc.nat(6),
        fc.constantFrom(...ACTIONS),
        (allows, at, action) => {
          const statements: object[] = [...allows];
          statements.splice(Math.min(at, statements.length), 0, {
            Effect: "Deny",
            Action: "iot:*",
            Resource: "*",
          });
          const d = evaluate([doc(...statements)], action, arn("a/b"), ctx);
          expect(d.reason).toBe("explicit-deny");
        },
      ),
    );
  });
});
