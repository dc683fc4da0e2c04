/**
 * The cloud registry as the provisioning pipeline sees it: the step-by-step
 * AWS IoT operations of registration (certificate, thing, policy, attach:
 * docs/architecture.md) and the rollback operations in the
 * order AWS requires. One implementation talks to AWS IoT (or anything with
 * its API, such as the local AWS IoT) through @aws-sdk/client-iot.
 *
 * Every method throws ProvisionError with a CLOUD_* code naming the
 * operation; "not found" is an answer (undefined), not an error, where the
 * caller needs to tell the two apart.
 */
import type { CertificateStatus } from "../cloud/iot-names.js";

export type { CertificateStatus };

export interface IssuedCertificate {
  certificateId: string;
  certificateArn: string;
  certificatePem: string;
}

export interface CertificateDescription {
  certificateId: string;
  certificateArn: string;
  status: CertificateStatus;
  certificatePem: string;
  creationDate?: Date;
}

export interface CertificateListEntry {
  certificateId: string;
  certificateArn: string;
  status: CertificateStatus;
  creationDate?: Date;
}

export interface ThingResult {
  thingName: string;
  thingArn: string;
  thingId?: string;
  /** false when the thing already existed (this run must then not delete it). */
  created: boolean;
}

export interface PolicyResult {
  policyName: string;
  policyArn: string;
  /** false when an identical policy already existed. */
  created: boolean;
}

/** A principal attached to a thing, and how (ListThingPrincipalsV2). */
export interface ThingPrincipal {
  /** The certificate ARN. */
  principal: string;
  /** Attached EXCLUSIVE_THING (as this tool attaches), not NON_EXCLUSIVE_THING (the default of others). */
  exclusive: boolean;
}

export interface WaitOptions {
  /** How long to poll ListPrincipalThings after DetachThingPrincipal. */
  timeoutMs?: number;
  intervalMs?: number;
}

export interface CloudRegistry {
  /** For messages and ARNs. */
  readonly region: string;
  /** Human description of the control-plane endpoint, for messages. */
  readonly endpointDescription: string;

  /** CreateCertificateFromCsr with setAsActive as given. */
  createCertificateFromCsr(csrPem: string, setAsActive: boolean): Promise<IssuedCertificate>;
  /**
   * DescribeThing, then CreateThing if absent; never changes an existing
   * thing. `lookedUp`: the caller just saw it absent, skip the DescribeThing
   * (one created meanwhile with other attributes is reported created: false;
   * with identical ones AWS answers success, so it counts as created here).
   */
  createThing(
    thingName: string,
    attributes: Record<string, string>,
    options?: { lookedUp?: boolean },
  ): Promise<ThingResult>;
  describeThing(
    thingName: string,
  ): Promise<{ thingName: string; thingArn: string; attributes: Record<string, string> } | undefined>;
  /** GetPolicy, then CreatePolicy if absent; refuses (CONFIG) an existing policy with another document. */
  ensurePolicy(policyName: string, policyDocument: string): Promise<PolicyResult>;
  attachPolicy(policyName: string, certificateArn: string): Promise<void>;
  attachThingPrincipal(
    thingName: string,
    certificateArn: string,
    options: { exclusive: boolean },
  ): Promise<void>;
  /** Always the ATS endpoint (iot:Data-ATS); the legacy one serves a VeriSign chain. */
  describeEndpoint(): Promise<string>;
  describeCertificate(certificateId: string): Promise<CertificateDescription | undefined>;
  /** All certificates, newest first where the service allows it. */
  listCertificates(options?: { maxItems?: number }): Promise<CertificateListEntry[]>;
  listPrincipalThings(certificateArn: string): Promise<string[]>;
  /** Principals (certificate ARNs) attached to a thing; none for a thing that does not exist. */
  listThingPrincipals(thingName: string): Promise<string[]>;
  /** The same with how each is attached (ListThingPrincipalsV2); none for a thing that does not exist. */
  listThingPrincipalsV2(thingName: string): Promise<ThingPrincipal[]>;
  /** Every thing name of the account (ListThings, 250 a page). */
  listThings(): Promise<string[]>;
  listAttachedPolicies(certificateArn: string): Promise<string[]>;

  // Rollback, in AWS's required order.
  /** UpdateCertificate newStatus=INACTIVE. */
  deactivateCertificate(certificateId: string): Promise<void>;
  /** DetachThingPrincipal, then polls ListPrincipalThings until the thing is gone (it is asynchronous). */
  detachThingPrincipal(thingName: string, certificateArn: string, wait?: WaitOptions): Promise<void>;
  detachPolicy(policyName: string, certificateArn: string): Promise<void>;
  /** DeleteCertificate; retries DeleteConflictException (still attached) a bounded number of times. */
  deleteCertificate(certificateId: string): Promise<void>;
  deleteThing(thingName: string): Promise<void>;
}

/** arn:aws:iot:REGION:ACCOUNT:cert/ID -> {region, accountId}. */
export function arnParts(arn: string): { partition: string; region: string; accountId: string } {
  const m = /^arn:([^:]+):iot:([^:]*):([^:]*):/.exec(arn);
  if (m === null) throw new TypeError(`not an AWS IoT ARN: ${arn}`);
  return { partition: m[1] ?? "aws", region: m[2] ?? "", accountId: m[3] ?? "" };
}
