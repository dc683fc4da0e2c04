/**
 * AWS IoT policy evaluation for the local broker: a pure function of the
 * attached policy documents, the requested action and resource, and what is
 * known about the connection. No I/O, no registry access.
 *
 * Semantics follow AWS IoT Core (IAM policy grammar restricted to what a
 * message broker asks):
 * - default deny; any matching Allow allows; any matching Deny wins;
 * - `Action`/`NotAction` and `Resource`/`NotResource` as a string or array;
 * - `*` (any run of characters, `/` included) and `?` (one character) are the
 *   only wildcards; MQTT's `+` and `#` are literal characters in policies;
 * - action names compare case-insensitively, resources case-sensitively;
 * - policy variables `${iot:ClientId}`, `${iot:Connection.Thing.ThingName}`,
 *   `${iot:Connection.Thing.IsAttached}` and the escapes `${*}`, `${?}`,
 *   `${$}`. A substituted value is literal text (a client id holding `*` is
 *   not a wildcard). A resource naming a variable that cannot be resolved
 *   matches nothing, as in IAM; a NotResource or negated condition naming
 *   one fails closed (never widens an Allow);
 * - `Condition` with the String*, Bool and Null operators (and their
 *   `...IfExists` forms) over the same keys. An operator this engine does not
 *   know fails closed: it never lets an Allow apply, and it lets a Deny apply.
 */

export type IotAction = "iot:Connect" | "iot:Publish" | "iot:Receive" | "iot:Subscribe";

/** What the broker knows about the connection asking. */
export interface PolicyContext {
  clientId: string;
  /**
   * Thing names attached to the certificate. Thing variables resolve only when
   * the client id equals one of them (AWS's rule).
   */
  attachedThings: readonly string[];
}

export type DecisionReason = "explicit-deny" | "allow" | "implicit-deny";

export interface Decision {
  allowed: boolean;
  reason: DecisionReason;
  /** Name of the policy whose statement decided (Allow or Deny); absent for implicit deny. */
  policyName?: string;
}

export interface NamedPolicyDocument {
  policyName: string;
  policyDocument: string;
}

export type ResourceKind = "client" | "topic" | "topicfilter";

/** `arn:aws:iot:REGION:ACCOUNT:client/<id>`, `...:topic/<topic>`, `...:topicfilter/<filter>`. */
export function iotResourceArn(region: string, accountId: string, kind: ResourceKind, name: string): string {
  return `arn:aws:iot:${region}:${accountId}:${kind}/${name}`;
}

interface Statement {
  effect: "Allow" | "Deny";
  actions?: string[];
  notActions?: string[];
  resources?: string[];
  notResources?: string[];
  condition?: Record<string, Record<string, unknown>>;
}

interface ParsedPolicy {
  statements: Statement[];
}

/** Parsing is the costly part and policies change rarely: keep the parsed form per document text. */
const parsedCache = new Map<string, ParsedPolicy>();
const PARSED_CACHE_MAX = 512;

function asStringList(v: unknown): string[] | undefined {
  if (v === undefined) return undefined;
  if (typeof v === "string") return [v];
  if (Array.isArray(v) && v.every((x) => typeof x === "string")) return v as string[];
  // A malformed element makes the statement unusable; an empty list matches nothing.
  return [];
}

/**
 * Parses a policy document. Malformed documents or statements are dropped
 * rather than thrown: the control plane validates documents when they are
 * created, and a broker must not crash on one it did not write.
 */
export function parsePolicy(documentText: string): ParsedPolicy {
  const cached = parsedCache.get(documentText);
  if (cached) return cached;
  let doc: unknown;
  try {
    doc = JSON.parse(documentText);
  } catch {
    doc = undefined;
  }
  const statements: Statement[] = [];
  const raw = (doc as { Statement?: unknown } | undefined)?.Statement;
  const list = Array.isArray(raw) ? raw : raw === undefined ? [] : [raw];
  for (const s of list) {
    if (typeof s !== "object" || s === null) continue;
    const o = s as Record<string, unknown>;
    if (o.Effect !== "Allow" && o.Effect !== "Deny") continue;
    const st: Statement = { effect: o.Effect };
    const actions = asStringList(o.Action);
    const notActions = asStringList(o.NotAction);
    const resources = asStringList(o.Resource);
    const notResources = asStringList(o.NotResource);
    if (actions) st.actions = actions;
    if (notActions) st.notActions = notActions;
    if (resources) st.resources = resources;
    if (notResources) st.notResources = notResources;
    if (o.Condition !== undefined) {
      if (typeof o.Condition !== "object" || o.Condition === null) continue;
      st.condition = o.Condition as Record<string, Record<string, unknown>>;
    }
    // IAM requires exactly one of each pair; a statement without them is ignored.
    if ((st.actions === undefined) === (st.notActions === undefined)) continue;
    if ((st.resources === undefined) === (st.notResources === undefined)) continue;
    statements.push(st);
  }
  const parsed = { statements };
  if (parsedCache.size >= PARSED_CACHE_MAX) parsedCache.clear();
  parsedCache.set(documentText, parsed);
  return parsed;
}

/** The values of the policy variables / condition keys for one connection; undefined = cannot be resolved. */
export function contextValues(ctx: PolicyContext): Map<string, string | undefined> {
  const isAttached = ctx.attachedThings.includes(ctx.clientId);
  const m = new Map<string, string | undefined>();
  m.set("iot:clientid", ctx.clientId);
  m.set("iot:connection.thing.thingname", isAttached ? ctx.clientId : undefined);
  m.set("iot:connection.thing.isattached", isAttached ? "true" : "false");
  return m;
}

const ESCAPES: Record<string, string> = { "*": "*", "?": "?", $: "$" };

type PatternPart = { literal: string } | { wildcard: "*" | "?" };

/**
 * Splits a policy string into literal text and wildcards, substituting
 * variables as literal text. Returns undefined when a variable cannot be
 * resolved (the element then matches nothing).
 */
function substitute(
  pattern: string,
  values: Map<string, string | undefined>,
  allowWildcards: boolean,
): PatternPart[] | undefined {
  const parts: PatternPart[] = [];
  let i = 0;
  while (i < pattern.length) {
    const ch = pattern[i] as string;
    if (ch === "$" && pattern[i + 1] === "{") {
      const end = pattern.indexOf("}", i + 2);
      if (end < 0) {
        parts.push({ literal: pattern.slice(i) });
        break;
      }
      const name = pattern.slice(i + 2, end);
      const escaped = ESCAPES[name];
      if (escaped !== undefined) {
        parts.push({ literal: escaped });
      } else {
        const v = values.get(name.toLowerCase());
        if (v === undefined) return undefined;
        parts.push({ literal: v });
      }
      i = end + 1;
      continue;
    }
    if (allowWildcards && (ch === "*" || ch === "?")) parts.push({ wildcard: ch });
    else parts.push({ literal: ch });
    i += 1;
  }
  return parts;
}

function regexEscape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
}

function partsToRegex(parts: PatternPart[], ignoreCase: boolean): RegExp {
  let src = "";
  for (const p of parts) {
    if ("literal" in p) src += regexEscape(p.literal);
    else src += p.wildcard === "*" ? "[\\s\\S]*" : "[\\s\\S]";
  }
  return new RegExp(`^${src}$`, ignoreCase ? "i" : "");
}

/** Glob match with `*`/`?` after variable substitution; false when a variable is unresolved. */
export function matchesPattern(
  pattern: string,
  value: string,
  values: Map<string, string | undefined>,
  ignoreCase = false,
): boolean {
  const parts = substitute(pattern, values, true);
  if (!parts) return false;
  return partsToRegex(parts, ignoreCase).test(value);
}

function anyMatch(
  patterns: string[],
  value: string,
  values: Map<string, string | undefined>,
  ignoreCase: boolean,
): boolean {
  return patterns.some((p) => matchesPattern(p, value, values, ignoreCase));
}

/** "undecidable": an operator this engine does not know, or a negated one whose value cannot be resolved. */
type ConditionResult = "match" | "no-match" | "undecidable";

/** True when every variable in the pattern resolves. */
function resolvable(pattern: string, values: Map<string, string | undefined>): boolean {
  return substitute(pattern, values, true) !== undefined;
}

function conditionValues(v: unknown): string[] {
  if (Array.isArray(v)) return v.map((x) => String(x));
  return [String(v)];
}

const KNOWN_OPERATORS = new Set([
  "StringEquals",
  "StringNotEquals",
  "StringEqualsIgnoreCase",
  "StringNotEqualsIgnoreCase",
  "StringLike",
  "StringNotLike",
  "Bool",
  "Null",
]);

/** One condition operator block; all keys must match (AND), any value of a key may match (OR). */
function evaluateOperator(
  operatorWithSuffix: string,
  block: Record<string, unknown>,
  values: Map<string, string | undefined>,
): ConditionResult {
  const ifExists = operatorWithSuffix.endsWith("IfExists");
  const operator = ifExists ? operatorWithSuffix.slice(0, -"IfExists".length) : operatorWithSuffix;
  if (!KNOWN_OPERATORS.has(operator)) return "undecidable";
  for (const [key, rawExpected] of Object.entries(block)) {
    const actual = values.get(key.toLowerCase());
    const expected = conditionValues(rawExpected);
    if (operator === "Null") {
      // Null: "true" = the key must be absent.
      const wantAbsent = expected.some((e) => e.toLowerCase() === "true");
      if (wantAbsent !== (actual === undefined)) return "no-match";
      continue;
    }
    if (actual === undefined) {
      if (ifExists) continue;
      // IAM: a missing key fails positive operators and satisfies negated ones.
      if (operator.startsWith("StringNot")) continue;
      return "no-match";
    }
    // "Not equal to a value nobody knows" would hold for everyone: undecidable instead (fails closed).
    if (operator.startsWith("StringNot") && !expected.every((e) => resolvable(e, values)))
      return "undecidable";
    const resolved = expected.map((e) => {
      const parts = substitute(e, values, false);
      return parts ? parts.map((p) => ("literal" in p ? p.literal : p.wildcard)).join("") : undefined;
    });
    const defined = resolved.filter((e): e is string => e !== undefined);
    let ok: boolean;
    switch (operator) {
      case "StringEquals":
        ok = defined.includes(actual);
        break;
      case "StringNotEquals":
        ok = !defined.includes(actual);
        break;
      case "StringEqualsIgnoreCase":
        ok = defined.some((e) => e.toLowerCase() === actual.toLowerCase());
        break;
      case "StringNotEqualsIgnoreCase":
        ok = !defined.some((e) => e.toLowerCase() === actual.toLowerCase());
        break;
      case "StringLike":
        ok = expected.some((e) => matchesPattern(e, actual, values));
        break;
      case "StringNotLike":
        ok = !expected.some((e) => matchesPattern(e, actual, values));
        break;
      case "Bool":
        ok = defined.some((e) => e.toLowerCase() === actual.toLowerCase());
        break;
      default:
        return "undecidable";
    }
    if (!ok) return "no-match";
  }
  return "match";
}

function conditionHolds(st: Statement, values: Map<string, string | undefined>): boolean {
  if (!st.condition) return true;
  for (const [op, block] of Object.entries(st.condition)) {
    if (typeof block !== "object" || block === null) return st.effect === "Deny";
    const r = evaluateOperator(op, block, values);
    // Fail closed: an operator we cannot evaluate never grants, always denies.
    if (r === "undecidable") return st.effect === "Deny";
    if (r === "no-match") return false;
  }
  return true;
}

function statementApplies(
  st: Statement,
  action: IotAction,
  resourceArn: string,
  values: Map<string, string | undefined>,
): boolean {
  const actionOk = st.actions
    ? anyMatch(st.actions, action, values, true)
    : !anyMatch(st.notActions ?? [], action, values, true);
  if (!actionOk) return false;
  const notResources = st.notResources ?? [];
  // An exclusion naming an unresolved variable cannot be applied: fail closed (an Allow never
  // applies, a Deny does), or a NotResource Allow would grant everything.
  const resourceOk = st.resources
    ? anyMatch(st.resources, resourceArn, values, false)
    : notResources.every((p) => resolvable(p, values))
      ? !anyMatch(notResources, resourceArn, values, false)
      : st.effect === "Deny";
  if (!resourceOk) return false;
  return conditionHolds(st, values);
}

/** Evaluates one request against all policies attached to the principal. */
export function evaluate(
  policies: readonly NamedPolicyDocument[],
  action: IotAction,
  resourceArn: string,
  ctx: PolicyContext,
): Decision {
  const values = contextValues(ctx);
  let allowedBy: string | undefined;
  for (const p of policies) {
    for (const st of parsePolicy(p.policyDocument).statements) {
      if (!statementApplies(st, action, resourceArn, values)) continue;
      if (st.effect === "Deny") return { allowed: false, reason: "explicit-deny", policyName: p.policyName };
      allowedBy ??= p.policyName;
    }
  }
  return allowedBy !== undefined
    ? { allowed: true, reason: "allow", policyName: allowedBy }
    : { allowed: false, reason: "implicit-deny" };
}
