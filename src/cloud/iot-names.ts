/**
 * AWS IoT's rules for names and states that both sides of the tool need:
 * the client side (src/registry, the plan rules) and the local AWS IoT that
 * stands in for the service (src/local-iot). Defined once here.
 */

/** A thing name as AWS IoT accepts it (CreateThing). */
export const THING_NAME_RULE = "[a-zA-Z0-9:_-]{1,128}";
export const THING_NAME_PATTERN = new RegExp(`^${THING_NAME_RULE}$`);

/** Every status AWS IoT reports for a certificate (DescribeCertificate). */
export type CertificateStatus =
  | "ACTIVE"
  | "INACTIVE"
  | "REVOKED"
  | "PENDING_TRANSFER"
  | "REGISTER_INACTIVE"
  | "PENDING_ACTIVATION";
