/**
 * Every rule a plan must meet, checked before the device or the cloud is
 * touched: a topic with a wildcard, an SSID the device cannot store or a
 * thing name template AWS refuses would otherwise be found only after the
 * chip made a key and the certificate and thing were created (then rolled
 * back). Each problem names its plan field, so the CLI can name the flag or
 * config key that set it.
 */
import { isIP } from "node:net";
import type Handlebars from "handlebars";
import { THING_NAME_PATTERN } from "../cloud/iot-names.js";
import { ProvisionError } from "../errors.js";
import { handlebarsErrorText } from "../handlebars-errors.js";
import { printable } from "../printable.js";
import type { CsrSubject, HelloAnswer } from "../protocol/index.js";
import { THING_NAME_VARIABLE, TOPIC_MAX_BYTES, topicProblem } from "../registry/policy.js";
import { requireCommonJs } from "../require-commonjs.js";
import { policyTopic } from "./credentials.js";
import type { ProvisionPlan } from "./plan.js";

/** AWS IoT: thing names are 1-128 of these. */
export { THING_NAME_PATTERN } from "../cloud/iot-names.js";

const THING_NAME_VARIABLES = ["deviceId", "boardId", "firmwareVersion"] as const;
/** What a device's HELLO typically says, to try a template on before any device is met. */
const SAMPLE_HELLO = { deviceId: "0123456789ab", boardId: "esp32-devkitc", firmwareVersion: "1.0.0" };
export const POLICY_NAME_PATTERN = /^[\w+=,.@-]{1,128}$/;
export const INTERVAL_MS_MIN = 1000;
export const INTERVAL_MS_MAX = 3_600_000;
export const TIMEOUT_MS_MAX = 24 * 3_600_000;
/** 802.11: an SSID is at most 32 bytes; WPA2 passphrases are 8-63 characters (or 64 hex digits). */
export const WIFI_SSID_MAX_BYTES = 32;
export const WIFI_PASSWORD_MAX_BYTES = 64;
/** X.520 upper bounds (RFC 5280): what a CA accepts in the CSR subject. */
export const SUBJECT_MAX: Record<keyof CsrSubject, number> = { C: 2, ST: 128, L: 128, O: 64, OU: 64, CN: 64 };

/** Control characters (tab included) and invisible format characters: never in a certificate subject. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
const SUBJECT_UNSAFE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\p{Cf}]/u;

export type PlanField =
  | "thingName"
  | "topic"
  | "policy"
  | "interval"
  | "timeout"
  | "wifi.ssid"
  | "wifi.password"
  | `subject.${keyof CsrSubject}`;

export interface PlanIssue {
  field: PlanField;
  /** What is wrong, without naming the field (the caller knows how the user set it). */
  problem: string;
  hint: string;
}

const compiled = new Map<string, HandlebarsTemplateDelegate>();
/** Literal text and `{{name}}` placeholders only, the shape of nearly every thing name template. */
const PLAIN_TEMPLATE = /^(?:[^{}\\]|\{\{[A-Za-z]\w*\}\})*$/;

/**
 * Renders a thing name template; strict: a variable the template names must
 * exist. A plain template (text and `{{name}}`, e.g. the default
 * `{{boardId}}-{{deviceId}}`) is filled in directly, as Handlebars with
 * noEscape fills it; anything else (helpers, `{{{x}}}`, spaces, escapes)
 * goes to Handlebars, loaded then: a plan check or a start need not load it
 * for the usual template (docs/performance.md, start-up).
 */
export function renderTemplate(template: string, vars: Record<string, string>): string {
  if (PLAIN_TEMPLATE.test(template)) {
    const names = [...template.matchAll(/\{\{(\w+)\}\}/g)].map((m) => m[1] as string);
    if (names.every((n) => Object.hasOwn(vars, n)))
      return template.replace(/\{\{(\w+)\}\}/g, (_, n: string) => vars[n] as string);
  }
  let t = compiled.get(template);
  if (!t) {
    t = loadHandlebars().compile(template, { noEscape: true, strict: true });
    compiled.set(template, t);
  }
  return t(vars);
}

let handlebars: typeof Handlebars | undefined;
/** Handlebars is CommonJS: required on first use, synchronously, so renderTemplate stays synchronous. */
function loadHandlebars(): typeof Handlebars {
  handlebars ??= requireCommonJs("handlebars") as typeof Handlebars;
  return handlebars;
}

function thingNameIssue(template: string, boardId: string | undefined): PlanIssue | undefined {
  const hint = `thing names are 1-128 characters of a-z A-Z 0-9 : _ -; variables: ${THING_NAME_VARIABLES.map((v) => `{{${v}}}`).join(", ")}`;
  let name: string;
  try {
    name = renderTemplate(template, { ...SAMPLE_HELLO, boardId: boardId ?? SAMPLE_HELLO.boardId });
  } catch (e) {
    return { field: "thingName", problem: `template does not render: ${handlebarsErrorText(e)}`, hint };
  }
  if (template.includes("{{firmwareVersion}}") && !THING_NAME_PATTERN.test(SAMPLE_HELLO.firmwareVersion))
    return {
      field: "thingName",
      problem: "{{firmwareVersion}} holds dots and + (e.g. 1.0.0+twin), which thing names may not contain",
      hint,
    };
  if (!THING_NAME_PATTERN.test(name))
    return {
      field: "thingName",
      problem: `thing name "${name}" is not valid for AWS IoT (sample values)`,
      hint,
    };
  return undefined;
}

function topicIssue(topic: string): PlanIssue | undefined {
  const hint = `a plain topic such as {{thingName}}/counter or topic_001: no + # * ?, at most 256 bytes and 7 slashes`;
  const asPolicy = policyTopic(topic);
  const problem = topicProblem(asPolicy);
  if (problem !== undefined) return { field: "topic", problem, hint };
  // The longest thing name decides whether every device's topic fits.
  const longest = Buffer.byteLength(asPolicy.split(THING_NAME_VARIABLE).join("x".repeat(128)));
  if (longest > TOPIC_MAX_BYTES)
    return { field: "topic", problem: `is ${longest} bytes with a 128-character thing name`, hint };
  return undefined;
}

function wifiIssues(wifi: ProvisionPlan["wifi"]): PlanIssue[] {
  if (!wifi) return [];
  const out: PlanIssue[] = [];
  const ssidBytes = Buffer.byteLength(wifi.ssid);
  if (ssidBytes === 0 || ssidBytes > WIFI_SSID_MAX_BYTES)
    out.push({
      field: "wifi.ssid",
      problem: `is ${ssidBytes} bytes; an SSID is 1-${WIFI_SSID_MAX_BYTES} bytes`,
      hint: "give the network's name exactly as the access point broadcasts it",
    });
  const password = wifi.password;
  if (password !== undefined && password !== "") {
    const bytes = Buffer.byteLength(password);
    const hexKey = bytes === WIFI_PASSWORD_MAX_BYTES && /^[0-9a-fA-F]+$/.test(password);
    if (bytes > WIFI_PASSWORD_MAX_BYTES || bytes < 8 || (bytes === WIFI_PASSWORD_MAX_BYTES && !hexKey))
      out.push({
        field: "wifi.password",
        problem: `is ${bytes} bytes; WPA2 wants 8-63 characters or 64 hex digits`,
        hint: "check the password file (a trailing newline is removed; other whitespace counts)",
      });
  }
  return out;
}

function numberIssue(field: PlanField, value: number, min: number, max: number): PlanIssue | undefined {
  if (Number.isInteger(value) && value >= min && value <= max) return undefined;
  return {
    field,
    problem: `must be a whole number of ms, at least ${min}${max < Number.MAX_SAFE_INTEGER ? ` and at most ${max}` : ""}`,
    hint: `a value from ${min} to ${max} ms`,
  };
}

/** Every problem of the plan, in the order the fields are listed in docs/configuration.md. */
export function planIssues(plan: ProvisionPlan): PlanIssue[] {
  const issues: (PlanIssue | undefined)[] = [
    thingNameIssue(plan.thingNameTemplate, plan.boardId),
    topicIssue(plan.topic),
    POLICY_NAME_PATTERN.test(plan.policyName)
      ? undefined
      : {
          field: "policy",
          problem: "is not a valid policy name",
          hint: "policy names are 1-128 characters of letters, digits and _ + = , . @ -",
        },
    numberIssue("interval", plan.intervalMs, INTERVAL_MS_MIN, INTERVAL_MS_MAX),
    numberIssue("timeout", plan.firstPublishTimeoutMs, 1, TIMEOUT_MS_MAX),
    ...wifiIssues(plan.wifi),
  ];
  for (const [key, max] of Object.entries(SUBJECT_MAX) as [keyof CsrSubject, number][]) {
    const v = plan.subject[key];
    if (v === undefined) continue;
    const bad = key === "C" ? !/^[A-Z]{2}$/.test(v) : v.length === 0 || v.length > max;
    if (bad)
      issues.push({
        field: `subject.${key}`,
        problem: key === "C" ? "must be a two-letter country code (ISO 3166)" : `must be 1-${max} characters`,
        hint: "CSR subject fields follow RFC 5280's upper bounds",
      });
    else if (SUBJECT_UNSAFE.test(v))
      // A CA copies the subject into certificates that terminals, logs and manifests show later.
      issues.push({
        field: `subject.${key}`,
        problem: `holds a control or invisible character (${printable(v.match(SUBJECT_UNSAFE)?.[0] ?? "")})`,
        hint: "subject fields are printable text: no escape sequences, line breaks or zero-width characters",
      });
  }
  return issues.filter((i): i is PlanIssue => i !== undefined);
}

/** The device keeps the MQTT host in 253 bytes (PROV_ENDPOINT_MAX), as DNS names are. */
export const ENDPOINT_MAX_BYTES = 253;
const HOST_LABEL = /^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$/;

/**
 * Why `host` cannot be the device's MQTT endpoint (a DNS name or an IP
 * address), or undefined. `provision` gets it from DescribeEndpoint; `install`
 * from the operator, who may paste a URL or a space.
 */
export function endpointProblem(host: string): string | undefined {
  if (isIP(host) !== 0) return undefined;
  if (host === "" || Buffer.byteLength(host) > ENDPOINT_MAX_BYTES)
    return `must be 1-${ENDPOINT_MAX_BYTES} bytes`;
  if (/^[a-z]+:\/\//i.test(host)) return "is a URL: give the host name only (no scheme, port or path)";
  if (
    !host
      .replace(/\.$/, "")
      .split(".")
      .every((l) => HOST_LABEL.test(l))
  )
    return "is not a host name (letters, digits and - between dots) or an IP address";
  return undefined;
}

/** For callers without their own field names (the station, tests): the first problem as a USAGE error. */
export function checkPlan(plan: ProvisionPlan): void {
  const first = planIssues(plan)[0];
  if (first) {
    throw new ProvisionError("USAGE", `plan field ${first.field} ${first.problem}`, {
      hint: first.hint,
      details: { field: first.field },
    });
  }
}

/** The device's thing name; checked again with the real HELLO values. */
export function thingNameFor(plan: Pick<ProvisionPlan, "thingNameTemplate">, hello: HelloAnswer): string {
  const vars = { deviceId: hello.deviceId, boardId: hello.boardId, firmwareVersion: hello.firmwareVersion };
  let name: string;
  try {
    name = renderTemplate(plan.thingNameTemplate, vars);
  } catch (e) {
    throw new ProvisionError("USAGE", `template "${plan.thingNameTemplate}": ${handlebarsErrorText(e)}`, {
      hint: `variables available: ${Object.keys(vars).join(", ")}`,
    });
  }
  if (!THING_NAME_PATTERN.test(name)) {
    throw new ProvisionError("USAGE", `thing name "${name}" is not valid for AWS IoT`, {
      hint: "thing names are 1-128 characters of a-z A-Z 0-9 : _ -",
    });
  }
  return name;
}
