/**
 * The built-in least-privilege device policy: the AWS developer guide's
 * shape (AWS IoT Developer Guide) with REGION and ACCOUNT filled. Thing policy variables
 * resolve only when the MQTT client id equals the thing name and the
 * certificate is attached to that thing, which is how the tool provisions.
 */
import { ProvisionError } from "../errors.js";

// biome-ignore lint/suspicious/noTemplateCurlyInString: an AWS IoT policy variable, meant literally
export const THING_NAME_VARIABLE = "${iot:Connection.Thing.ThingName}";
/** The device's default topic: one per thing, under its own name. */
export const TOPIC_DEFAULT = `${THING_NAME_VARIABLE}/counter`;

export interface PolicyTemplateOptions {
  region: string;
  accountId: string;
  /** ARN partition, "aws" unless in China or GovCloud. */
  partition?: string;
  /**
   * The topic the device publishes and subscribes to. Under the thing's name
   * (TOPIC_DEFAULT, or any `${iot:Connection.Thing.ThingName}/...`) gives the
   * reference policy, which allows the thing's whole subtree; a literal topic
   * such as the reference walkthrough's `topic_001` allows exactly that topic.
   */
  topic?: string;
}

interface Statement {
  Effect: "Allow";
  Action: string[];
  Resource: string[];
}

/** The policy document as JSON text, ready for CreatePolicy. */
export function leastPrivilegePolicy(options: PolicyTemplateOptions): string {
  const topic = options.topic ?? TOPIC_DEFAULT;
  checkTopic(topic);
  const arn = `arn:${options.partition ?? "aws"}:iot:${options.region}:${options.accountId}`;
  const topicResource = topic.startsWith(`${THING_NAME_VARIABLE}/`) ? `${THING_NAME_VARIABLE}/*` : topic;
  const statements: Statement[] = [
    { Effect: "Allow", Action: ["iot:Connect"], Resource: [`${arn}:client/${THING_NAME_VARIABLE}`] },
    { Effect: "Allow", Action: ["iot:Publish", "iot:Receive"], Resource: [`${arn}:topic/${topicResource}`] },
    { Effect: "Allow", Action: ["iot:Subscribe"], Resource: [`${arn}:topicfilter/${topicResource}`] },
  ];
  return JSON.stringify({ Version: "2012-10-17", Statement: statements });
}

/** The concrete topic a given thing uses (the variable replaced by its name). */
export function topicForThing(topic: string, thingName: string): string {
  return topic.split(THING_NAME_VARIABLE).join(thingName);
}

/** AWS IoT's limits on a topic name (the thing name counts with its real length). */
export const TOPIC_MAX_BYTES = 256;
export const TOPIC_MAX_SLASHES = 7;

/**
 * Why a topic (with `${iot:Connection.Thing.ThingName}` for the thing's name)
 * cannot be the device's topic, or undefined when it can.
 */
export function topicProblem(topic: string): string | undefined {
  const literal = topic.split(THING_NAME_VARIABLE).join("");
  if (topic.length === 0) return "it is empty";
  // In policies * and ? are wildcards and cannot be escaped; + and # cannot be published to.
  const wildcard = /[*?+#]/.exec(literal);
  if (wildcard) return `"${wildcard[0]}" is a wildcard (MQTT or IoT policy), not a topic character`;
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
  if (/[\u0000-\u001f\u007f]/.test(literal)) return "it holds a control character";
  if (literal.includes("${") || literal.includes("{{"))
    return "the only variable a topic may use is the thing name ({{thingName}})";
  if (literal.startsWith("$") && !topic.startsWith(THING_NAME_VARIABLE))
    return "topics starting with $ are reserved by AWS IoT";
  if (topic.includes(THING_NAME_VARIABLE) && !topic.startsWith(`${THING_NAME_VARIABLE}/`))
    return "it uses the thing name other than as its first level";
  const slashes = topic.split("/").length - 1;
  if (slashes > TOPIC_MAX_SLASHES) return `it has ${slashes} slashes; AWS IoT allows ${TOPIC_MAX_SLASHES}`;
  return undefined;
}

function checkTopic(topic: string): void {
  const problem = topicProblem(topic);
  if (problem !== undefined) {
    throw new ProvisionError("CONFIG", `topic "${topic}" cannot be used: ${problem}`, {
      hint: `give a plain topic such as my-thing/counter or topic_001, or ${TOPIC_DEFAULT}`,
    });
  }
}

const asList = (v: unknown): string[] =>
  (Array.isArray(v) ? v : [v]).filter((x): x is string => typeof x === "string");
/** Every IoT action: `*`, `iot:*`, or a pattern ending in `*` right after `iot:`. */
const ALL_ACTIONS = /^(\*|iot:\*)$/i;
/** Every IoT resource: `*`, or an ARN whose resource part is `*` (any client, topic, thing). */
const ALL_RESOURCES = /^(\*|arn:[^:]*:iot:[^:]*:[^:]*:\*)$/;

/**
 * What a policy document given in place of the built-in one allows that it
 * should not: an Allow statement for every IoT action on every resource
 * lets any device with a certificate under it connect as any client id and
 * publish or subscribe anywhere. Warned about, not refused: it may be a lab.
 */
export function policyWarnings(document: string): string[] {
  let statements: unknown;
  try {
    statements = (JSON.parse(document) as { Statement?: unknown }).Statement;
  } catch {
    return [];
  }
  const out: string[] = [];
  const list: unknown[] = Array.isArray(statements) ? statements : statements ? [statements] : [];
  for (const st of list) {
    const s = st as { Effect?: unknown; Action?: unknown; Resource?: unknown };
    if (s?.Effect !== "Allow") continue;
    const actions = asList(s.Action);
    const resources = asList(s.Resource);
    const action = actions.find((a) => ALL_ACTIONS.test(a));
    const resource = resources.find((r) => ALL_RESOURCES.test(r));
    if (action && resource)
      out.push(
        `the policy document allows every IoT action (${action}) on every resource (${resource}): any device with a certificate under it can connect as any client id and publish or subscribe on any topic; the built-in policy allows each device only its own thing name and topic`,
      );
  }
  return out;
}
