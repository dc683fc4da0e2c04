export { type AwsRegistryOptions, MAX_ATTEMPTS_DEFAULT, RETRY_MODE_DEFAULT } from "./aws-client.js";
export { type AwsCallContext, awsErrorName, isUnclearOutcome, mapAwsError } from "./aws-errors.js";
export {
  AwsCloudRegistry,
  DELETE_CONFLICT_RETRIES,
  DETACH_WAIT_TIMEOUT_MS_DEFAULT,
  ENDPOINT_TYPE_ATS,
} from "./aws-registry.js";
export { awsThingAttributes } from "./aws-values.js";
export { createAwsRegistry } from "./create-aws-registry.js";
export {
  leastPrivilegePolicy,
  type PolicyTemplateOptions,
  policyWarnings,
  THING_NAME_VARIABLE,
  TOPIC_DEFAULT,
  TOPIC_MAX_BYTES,
  TOPIC_MAX_SLASHES,
  topicForThing,
  topicProblem,
} from "./policy.js";
export {
  asUndo,
  IOT_API_TPS_DEFAULT,
  IOT_API_TPS_UNLISTED,
  OperationRateLimiter,
  type RateLimits,
} from "./rate-limits.js";
export * from "./registry.js";
