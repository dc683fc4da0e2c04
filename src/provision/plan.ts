/**
 * What one provisioning is asked to do (the plan), what it needs (its
 * dependencies) and what it reports (the result): the types every step of
 * the pipeline shares.
 */
import type { Ledger } from "../ledger/index.js";
import type { Observer } from "../observer/index.js";
import type { CsrSubject, KeyStoreName, KeyTypeName } from "../protocol/index.js";
import type { DeviceSession } from "../session/index.js";
import type { CommittedCheck } from "./committed-check.js";
import type { FirstMessageReport } from "./first-publish.js";
import type { Progress } from "./progress.js";
import type { CloudTarget } from "./target.js";

export {
  KEY_STORE_NAMES,
  KEY_TYPE_NAMES,
  type KeyStoreName,
  type KeyTypeName,
} from "../protocol/index.js";

export const THING_NAME_TEMPLATE_DEFAULT = "{{boardId}}-{{deviceId}}";
export const POLICY_NAME_DEFAULT = "provision-device-least-privilege";
export const INTERVAL_MS_DEFAULT = 5000;
export const FIRST_PUBLISH_TIMEOUT_MS_DEFAULT = 60_000;

export interface ProvisionPlan {
  /** Handlebars over {deviceId, boardId, firmwareVersion}. */
  thingNameTemplate: string;
  /** Topic with `{{thingName}}` or `${iot:Connection.Thing.ThingName}`, or a literal such as `topic_001`. */
  topic: string;
  policyName: string;
  /** Explicit policy JSON; default: the least-privilege template for `topic`. */
  policyDocument?: string;
  intervalMs: number;
  keyType?: KeyTypeName;
  keyStore?: KeyStoreName;
  subject: CsrSubject;
  wifi?: { ssid: string; password?: string };
  force: boolean;
  /**
   * Retire ACTIVE certificates of the device's thing that no run of this
   * ledger made (another station's, another ledger's, not this tool's) once
   * the new one publishes; `force` consents to it too.
   */
  retireUnknownCertificates?: boolean;
  lock: boolean;
  firstPublishTimeoutMs: number;
  /** Board the user named; must agree with what the device says. */
  boardId?: string;
  /** After HELLO, switch both sides to this baud rate (confirmed by PING, falls back if it fails). */
  switchBaud?: number;
  /** Stop after COMMIT, a restart and a STATUS showing the committed set ("committed"); default "published". */
  until?: Until;
}

/** What a provisioning waits for at its end (`--until`). */
export type Until = "published" | "committed";
export const UNTIL_VALUES: readonly Until[] = ["published", "committed"];

export interface ProvisionDeps {
  session: DeviceSession;
  target: CloudTarget;
  ledger: Ledger;
  observer: Observer;
  progress: Progress;
  /**
   * Aborted on SIGINT/SIGTERM/SIGHUP (src/provision/interruption.ts): checked before every step; the
   * pipeline stops there and undoes what it registered, or, once the device committed, keeps it.
   */
  signal?: AbortSignal;
}

export interface ProvisionResult {
  ok: true;
  mode: "provisioned" | "rotated" | "verified";
  port: string;
  deviceId: string;
  boardId: string;
  firmwareVersion: string;
  thingName: string;
  certificateId?: string;
  certificateArn?: string;
  endpoint: string;
  keyType?: string;
  topic: string;
  /** The device's first message; absent with `until: "committed"` (not waited for). */
  firstMessage?: FirstMessageReport;
  /** With `until: "committed"`: the set the device reported after its restart, read back from flash. */
  committed?: CommittedCheck;
  /** What the run waited for: the first publish (default), or only the committed set after a restart. */
  until: Until;
  locked: boolean;
  /** Certificate deactivated after a rotation (the first of retiredCertificateIds). */
  retiredCertificateId?: string;
  /** Every certificate of the device retired because it now holds this one. */
  retiredCertificateIds?: string[];
  /** The same, each with why, and for one no run of this ledger made, the flag that allowed it. */
  retiredCertificates?: { certificateId: string; why: string; consent?: string }[];
  /** ACTIVE certificates of the thing left alone (made outside this ledger, no consent), and why. */
  keptCertificates?: { certificateId: string; why: string }[];
  /** The certificate was issued by an earlier, interrupted run for the same key and taken over. */
  adopted?: boolean;
}

export type Step = <T>(
  name: string,
  label: string,
  run: () => Promise<T>,
  describe?: (r: T) => string,
) => Promise<T>;
