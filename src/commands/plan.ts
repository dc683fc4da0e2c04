/**
 * Turns flags + the config file + built-in defaults into a ProvisionPlan, in
 * that order of precedence. Secrets (the Wi-Fi password) come from a file or
 * the environment, never from a flag value that `ps` would show.
 */
import { existsSync } from "node:fs";
import { readBoundedFile } from "../bounded-read.js";
import type { ProvisionConfig } from "../config/schema.js";
import { ProvisionError } from "../errors.js";
import type { CsrSubject } from "../protocol/index.js";
import {
  FIRST_PUBLISH_TIMEOUT_MS_DEFAULT,
  INTERVAL_MS_DEFAULT,
  type KeyStoreName,
  type KeyTypeName,
  POLICY_NAME_DEFAULT,
  type ProvisionPlan,
  THING_NAME_TEMPLATE_DEFAULT,
  type Until,
} from "../provision/plan.js";
import { type PlanIssue, planIssues } from "../provision/plan-rules.js";
import type { TargetOptions } from "../provision/target.js";
import { policyWarnings, TOPIC_DEFAULT } from "../registry/policy.js";

export const CONFIG_FILE_DEFAULT = "provision.config.json";

export interface PlanFlags {
  config?: string;
  port?: string;
  baud?: number;
  board?: string;
  thingName?: string;
  policy?: string;
  policyDocument?: string;
  topic?: string;
  interval?: number;
  keyType?: KeyTypeName;
  keyStore?: KeyStoreName;
  subject?: string[];
  wifiSsid?: string;
  wifiPasswordFile?: string;
  timeout?: number;
  region?: string;
  profile?: string;
  endpointUrl?: string;
  ledger?: string;
  /** Seconds to wait for another process that writes the ledger. */
  ledgerWait?: number;
  force?: boolean;
  retireUnknownCertificates?: boolean;
  lock?: boolean;
  switchBaud?: number;
  until?: Until;
}

/** The config file, checked against its schema (zod, loaded only when there is a file to check). */
export async function loadConfig(file: string | undefined): Promise<ProvisionConfig> {
  const path = file ?? CONFIG_FILE_DEFAULT;
  if (!existsSync(path)) {
    if (file !== undefined && file !== CONFIG_FILE_DEFAULT) {
      throw new ProvisionError("CONFIG", `config file ${path} does not exist`, { where: path });
    }
    return {};
  }
  let text: string;
  try {
    text = readBoundedFile(path, "config", "config file", "--config");
  } catch (e) {
    if (e instanceof ProvisionError) throw e;
    throw new ProvisionError("CONFIG", `cannot read the config file: ${(e as Error).message}`, {
      where: path,
    });
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw new ProvisionError("CONFIG", `config file is not valid JSON: ${(e as Error).message}`, {
      where: path,
    });
  }
  const [{ ConfigSchema }, { formatIssues }] = await Promise.all([
    import("../config/schema.js"),
    import("../boards/index.js"),
  ]);
  const parsed = ConfigSchema.safeParse(data);
  if (!parsed.success) {
    throw new ProvisionError("CONFIG", `config file is invalid: ${formatIssues(parsed.error.issues)}`, {
      where: path,
      hint: "see docs/configuration.md for the fields",
    });
  }
  return parsed.data;
}

export function parseSubject(pairs: string[] | undefined): CsrSubject {
  const out: CsrSubject = {};
  for (const pair of pairs ?? []) {
    const m = /^(C|ST|L|O|OU|CN)=(.+)$/s.exec(pair);
    if (!m) {
      throw new ProvisionError(
        "USAGE",
        `--subject ${pair}: expected FIELD=value with FIELD one of C, ST, L, O, OU, CN`,
      );
    }
    out[m[1] as keyof CsrSubject] = m[2];
  }
  return out;
}

function readSecretFile(path: string): string {
  try {
    return readBoundedFile(path, "password", "Wi-Fi password", "--wifi-password-file").replace(/\r?\n$/, "");
  } catch (e) {
    if (e instanceof ProvisionError) throw e;
    throw new ProvisionError("CONFIG", `cannot read the Wi-Fi password file: ${(e as Error).message}`, {
      where: path,
    });
  }
}

export function wifiFrom(flags: Pick<PlanFlags, "wifiSsid" | "wifiPasswordFile">, config: ProvisionConfig) {
  const ssid = flags.wifiSsid ?? config.wifi?.ssid;
  if (!ssid) return undefined;
  const password = flags.wifiPasswordFile
    ? readSecretFile(flags.wifiPasswordFile)
    : (process.env.PROVISION_WIFI_PASSWORD ?? config.wifi?.password);
  return password === undefined ? { ssid } : { ssid, password };
}

export function buildPlan(flags: PlanFlags, config: ProvisionConfig): ProvisionPlan {
  let policyDocument: string | undefined;
  const docFile = flags.policyDocument ?? config.policyDocument;
  if (docFile) {
    const flag = flags.policyDocument !== undefined ? "--policy-document" : "policyDocument (config)";
    try {
      policyDocument = readBoundedFile(docFile, "policy", "policy document", flag);
      JSON.parse(policyDocument);
    } catch (e) {
      if (e instanceof ProvisionError) throw e;
      throw new ProvisionError("CONFIG", `policy document unreadable or not JSON: ${(e as Error).message}`, {
        where: docFile,
      });
    }
  }
  const plan: ProvisionPlan = {
    thingNameTemplate: flags.thingName ?? config.thingName ?? THING_NAME_TEMPLATE_DEFAULT,
    topic: flags.topic ?? config.topic ?? TOPIC_DEFAULT,
    policyName: flags.policy ?? config.policy ?? POLICY_NAME_DEFAULT,
    intervalMs: flags.interval ?? config.intervalMs ?? INTERVAL_MS_DEFAULT,
    subject: { ...config.subject, ...parseSubject(flags.subject) },
    force: Boolean(flags.force),
    lock: Boolean(flags.lock),
    firstPublishTimeoutMs: flags.timeout ?? config.timeoutMs ?? FIRST_PUBLISH_TIMEOUT_MS_DEFAULT,
  };
  const keyType = flags.keyType ?? config.keyType;
  if (keyType) plan.keyType = keyType;
  const keyStore = flags.keyStore ?? config.keyStore;
  if (keyStore) plan.keyStore = keyStore;
  if (policyDocument) plan.policyDocument = policyDocument;
  if (flags.switchBaud) plan.switchBaud = flags.switchBaud;
  const until = flags.until ?? config.until;
  if (until) plan.until = until;
  if (flags.retireUnknownCertificates) plan.retireUnknownCertificates = true;
  const board = flags.board ?? config.board;
  if (board) plan.boardId = board;
  const wifi = wifiFrom(flags, config);
  if (wifi) plan.wifi = wifi;
  // Everything is checked before the device or the cloud is touched; the error names the flag or key.
  const issue = planIssues(plan)[0];
  if (issue) throw planError(issue, plan, flags, config);
  return plan;
}

/** What the plan allows that it should not, said once at the start (not refused: a lab may want it). */
export function planWarnings(plan: ProvisionPlan): string[] {
  return plan.policyDocument === undefined ? [] : policyWarnings(plan.policyDocument);
}

/** How the user set each plan field: the flag (or variable), the config key, and the value as quoted. */
const FIELDS: Record<
  string,
  { flag: keyof PlanFlags; flagName: string; key: string; shown: (p: ProvisionPlan) => string }
> = {
  thingName: {
    flag: "thingName",
    flagName: "--thing-name",
    key: "thingName",
    shown: (p) => JSON.stringify(p.thingNameTemplate),
  },
  topic: { flag: "topic", flagName: "--topic", key: "topic", shown: (p) => JSON.stringify(p.topic) },
  policy: { flag: "policy", flagName: "--policy", key: "policy", shown: (p) => JSON.stringify(p.policyName) },
  interval: {
    flag: "interval",
    flagName: "--interval",
    key: "intervalMs",
    shown: (p) => String(p.intervalMs),
  },
  timeout: {
    flag: "timeout",
    flagName: "--timeout",
    key: "timeoutMs",
    shown: (p) => String(p.firstPublishTimeoutMs),
  },
  "wifi.ssid": {
    flag: "wifiSsid",
    flagName: "--wifi-ssid (or PROVISION_WIFI_SSID)",
    key: "wifi.ssid",
    shown: (p) => JSON.stringify(p.wifi?.ssid ?? ""),
  },
  // Never quoted: it is a secret.
  "wifi.password": {
    flag: "wifiPasswordFile",
    flagName: "--wifi-password-file",
    key: "wifi.password",
    shown: () => "",
  },
};

function planError(issue: PlanIssue, plan: ProvisionPlan, flags: PlanFlags, config: ProvisionConfig) {
  const configFile = flags.config ?? CONFIG_FILE_DEFAULT;
  const subjectKey = issue.field.startsWith("subject.") ? issue.field.slice("subject.".length) : undefined;
  const field = FIELDS[issue.field];
  let fromFlag: boolean;
  let label: string;
  let shown = "";
  if (subjectKey !== undefined) {
    fromFlag = (flags.subject ?? []).some((s) => s.startsWith(`${subjectKey}=`));
    label = fromFlag ? `--subject ${subjectKey}=` : `subject.${subjectKey}`;
    shown = JSON.stringify(plan.subject[subjectKey as keyof CsrSubject] ?? "");
  } else if (field !== undefined) {
    fromFlag = flags[field.flag] !== undefined;
    if (issue.field === "wifi.password" && !fromFlag)
      fromFlag = process.env.PROVISION_WIFI_PASSWORD !== undefined;
    label = fromFlag ? field.flagName : field.key;
    if (issue.field === "wifi.password" && fromFlag && flags.wifiPasswordFile === undefined)
      label = "PROVISION_WIFI_PASSWORD";
    shown = field.shown(plan);
  } else {
    fromFlag = true;
    label = issue.field;
  }
  const fromConfig =
    !fromFlag && configHas(config, subjectKey ? `subject.${subjectKey}` : (field?.key ?? ""));
  const what = `${label}${shown ? ` ${shown}` : ""}: ${issue.problem}`;
  if (fromConfig) {
    return new ProvisionError("CONFIG", `config file ${configFile}: ${what}`, {
      where: configFile,
      hint: `fix ${label} in ${configFile}: ${issue.hint}`,
      details: { field: label },
    });
  }
  const name = fromFlag ? label : `the default ${label}`;
  return new ProvisionError("USAGE", `${name}${what.slice(label.length)}`, {
    hint: `${fromFlag ? `fix ${label}` : `set ${field?.flagName ?? label}`}: ${issue.hint}`,
    details: { field: label },
  });
}

function configHas(config: ProvisionConfig, dotted: string): boolean {
  let v: unknown = config;
  for (const part of dotted.split(".")) v = (v as Record<string, unknown> | undefined)?.[part];
  return v !== undefined;
}

export interface TargetFlags {
  local?: boolean;
  localStateDir?: string;
  localPorts?: TargetOptions["localPorts"];
  region?: string;
  profile?: string;
  endpointUrl?: string;
}

/** Where to register: flags over the config file (credentials never come from either). */
export function targetOptions(flags: TargetFlags, config: ProvisionConfig): TargetOptions {
  const out: TargetOptions = {
    local: flags.local,
    localStateDir: flags.localStateDir,
    region: flags.region ?? config.region,
    profile: flags.profile ?? config.profile,
    endpointUrl: flags.endpointUrl ?? config.endpointUrl,
  };
  if (flags.localPorts) out.localPorts = flags.localPorts;
  return out;
}
