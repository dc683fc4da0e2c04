import fc from "fast-check";
import Handlebars from "handlebars";
import { describe, expect, it } from "vitest";
import { isProvisionError } from "../errors.js";
import { TOPIC_DEFAULT } from "../registry/index.js";
import {
  FIRST_PUBLISH_TIMEOUT_MS_DEFAULT,
  INTERVAL_MS_DEFAULT,
  POLICY_NAME_DEFAULT,
  type ProvisionPlan,
  THING_NAME_TEMPLATE_DEFAULT,
} from "./pipeline.js";
import { checkPlan, planIssues, renderTemplate } from "./plan-rules.js";

/** The built-in defaults, as `provision` with no flags plans. */
function defaults(): ProvisionPlan {
  return {
    thingNameTemplate: THING_NAME_TEMPLATE_DEFAULT,
    topic: TOPIC_DEFAULT,
    policyName: POLICY_NAME_DEFAULT,
    intervalMs: INTERVAL_MS_DEFAULT,
    subject: {},
    force: false,
    lock: false,
    firstPublishTimeoutMs: FIRST_PUBLISH_TIMEOUT_MS_DEFAULT,
  };
}

const fields = (p: ProvisionPlan) => planIssues(p).map((i) => i.field);

describe("plan rules (checked before the device or the cloud is touched)", () => {
  it("the built-in defaults pass", () => {
    expect(planIssues(defaults())).toEqual([]);
  });

  // biome-ignore lint/suspicious/noTemplateCurlyInString: an AWS policy variable, meant literally
  it.each(["a/#", "a/+/b", "sensors/*", "what?", "${iot:ClientId}/x", "$aws/things/x", "a/b/c/d/e/f/g/h/i"])(
    "topic %s is refused",
    (topic) => {
      expect(fields({ ...defaults(), topic })).toEqual(["topic"]);
    },
  );

  it("a topic that fits only with a short thing name is refused (256 bytes with a 128-character name)", () => {
    expect(fields({ ...defaults(), topic: `{{thingName}}/${"x".repeat(130)}` })).toEqual(["topic"]);
    expect(fields({ ...defaults(), topic: `{{thingName}}/${"x".repeat(100)}` })).toEqual([]);
  });

  it("SSID over 32 bytes (counted in UTF-8), password over 64 or under 8 are refused", () => {
    expect(fields({ ...defaults(), wifi: { ssid: "é".repeat(17) } })).toEqual(["wifi.ssid"]);
    expect(fields({ ...defaults(), wifi: { ssid: "net", password: "x".repeat(65) } })).toEqual([
      "wifi.password",
    ]);
    expect(fields({ ...defaults(), wifi: { ssid: "net", password: "short" } })).toEqual(["wifi.password"]);
    expect(fields({ ...defaults(), wifi: { ssid: "net", password: "a".repeat(64) } })).toEqual([]);
  });

  it("thing name templates AWS would refuse, or that use variables that do not exist, are refused", () => {
    for (const thingNameTemplate of [
      "{{firmwareVersion}}",
      "dev/{{deviceId}}",
      "{{serial}}",
      "x".repeat(129),
    ])
      expect(fields({ ...defaults(), thingNameTemplate })).toEqual(["thingName"]);
  });

  it("subject fields over RFC 5280's bounds, bad intervals and policy names are refused", () => {
    expect(fields({ ...defaults(), subject: { CN: "x".repeat(65), C: "usa" } })).toEqual([
      "subject.C",
      "subject.CN",
    ]);
    expect(fields({ ...defaults(), intervalMs: 999 })).toEqual(["interval"]);
    expect(fields({ ...defaults(), intervalMs: 3_600_001 })).toEqual(["interval"]);
    expect(fields({ ...defaults(), policyName: "a b" })).toEqual(["policy"]);
  });

  it("subject fields with a control or invisible character are refused (a CA copies them into certificates)", () => {
    for (const O of ["acme\x1b[2J", "line\nbreak", "zero\u200bwidth", "tab\there"])
      expect(fields({ ...defaults(), subject: { O } }), JSON.stringify(O)).toEqual(["subject.O"]);
    const [issue] = planIssues({ ...defaults(), subject: { CN: "a\x1b]0;t" } });
    expect(issue?.problem).toBe("holds a control or invisible character (\\x1b)");
    expect(fields({ ...defaults(), subject: { O: "Acme Gmbh & Co. KG, Zürich" } })).toEqual([]);
  });

  it("a thing name template that does not render says why in words (not [object Object])", () => {
    const problem = (thingNameTemplate: string) =>
      planIssues({ ...defaults(), thingNameTemplate })[0]?.problem;
    expect(problem("{{nope}}")).toBe("template does not render: {{nope}} is not one of its variables");
    expect(problem("{{deviceId.x}}")).toBe(
      "template does not render: .x: the variables are plain text, with no fields",
    );
    expect(problem("{{#if}}x")).toMatch(/^template does not render: it does not parse \(line 1: Expecting /);
    for (const t of ["{{nope}}", "{{deviceId.x}}", "{{#if}}x"])
      expect(problem(t)).not.toMatch(/object Object/);
  });

  it("checkPlan throws USAGE naming the field", () => {
    try {
      checkPlan({ ...defaults(), topic: "a/#" });
      expect.unreachable();
    } catch (e) {
      expect(isProvisionError(e, "USAGE")).toBe(true);
      expect((e as Error).message).toMatch(/topic/);
    }
  });
});

describe("thing name templates", () => {
  const handlebars = (template: string, vars: Record<string, string>) =>
    Handlebars.compile(template, { noEscape: true, strict: true })(vars);
  // Values with the characters Handlebars would escape without noEscape, and braces.
  const vars = { deviceId: "0123456789ab", boardId: "esp32-devkitc", firmwareVersion: "1.0.0+twin&<'\"`={}" };

  it("fills a plain template (text and {{name}}) exactly as Handlebars does", () => {
    const piece = fc.constantFrom(
      "{{deviceId}}",
      "{{boardId}}",
      "{{firmwareVersion}}",
      "-",
      "_",
      ":",
      "sensor",
      "x y",
      "é",
    );
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 8 }), (pieces) => {
        const template = pieces.join("");
        expect(renderTemplate(template, vars)).toBe(handlebars(template, vars));
      }),
    );
  });

  it("leaves everything else to Handlebars: helpers, spaces, triple braces, unknown names", () => {
    for (const template of [
      "{{ deviceId }}",
      "{{{boardId}}}",
      "{{#if deviceId}}d-{{deviceId}}{{/if}}",
      "a\\{{b}}",
    ])
      expect(renderTemplate(template, vars)).toBe(handlebars(template, vars));
    // strict: the same error as Handlebars for a name the device does not send
    expect(() => renderTemplate("x-{{serial}}", vars)).toThrow(/"serial" not defined/);
    expect(() => handlebars("x-{{serial}}", vars)).toThrow(/"serial" not defined/);
  });
});
