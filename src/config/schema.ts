/**
 * `provision.config.json`: the settings a team checks in once (board,
 * policy, topic, subject, region...) so that the daily command stays
 * `provision --port /dev/ttyUSB0`. Flags override the file; the file
 * overrides built-in defaults. Wi-Fi secrets may sit here but are better
 * given through the environment (PROVISION_WIFI_PASSWORD); they are never
 * printed.
 */
import { z } from "zod";
import { KEY_STORE_NAME_LIST, KEY_TYPE_NAME_LIST } from "../protocol/constants.js";

export const SubjectSchema = z
  .object({
    C: z.string().length(2).optional(),
    ST: z.string().min(1).max(128).optional(),
    L: z.string().min(1).max(128).optional(),
    O: z.string().min(1).max(64).optional(),
    OU: z.string().min(1).max(64).optional(),
    CN: z.string().min(1).max(64).optional(),
  })
  .strict();

export const ConfigSchema = z
  .object({
    port: z.string().optional(),
    baud: z.number().int().positive().optional(),
    board: z.string().optional(),
    thingName: z
      .string()
      .describe("Handlebars template; variables: deviceId, boardId, firmwareVersion")
      .optional(),
    policy: z.string().optional(),
    policyDocument: z.string().describe("path of a policy JSON file").optional(),
    topic: z.string().describe("Handlebars template; variables: thingName, deviceId").optional(),
    intervalMs: z.number().int().min(1000).max(3_600_000).optional(),
    keyType: z.enum(KEY_TYPE_NAME_LIST).optional(),
    keyStore: z.enum(KEY_STORE_NAME_LIST).optional(),
    subject: SubjectSchema.optional(),
    wifi: z
      .object({ ssid: z.string().min(1).max(32), password: z.string().max(64).optional() })
      .strict()
      .optional(),
    region: z.string().optional(),
    profile: z.string().optional(),
    endpointUrl: z.string().url().optional(),
    timeoutMs: z.number().int().positive().optional(),
    until: z
      .enum(["published", "committed"])
      .describe("published: wait for the first publish (default); committed: stop after COMMIT and a restart")
      .optional(),
    ledger: z.string().optional(),
    rateStore: z
      .string()
      .describe("redis://[:PASSWORD@]host:port[/DB]: the stations' shared budget (keep the file private)")
      .optional(),
  })
  .strict();

export type ProvisionConfig = z.infer<typeof ConfigSchema>;
