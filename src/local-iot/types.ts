/**
 * The seam between the local AWS IoT's control plane (registry.ts, owned by
 * the control-plane module) and its MQTT broker (broker/, which only reads).
 * The broker never mutates registry state; it asks these questions on every
 * connect / publish / subscribe so a certificate deactivated a moment ago is
 * refused at once.
 */
import type { CertificateStatus } from "../cloud/iot-names.js";

export type { CertificateStatus };

export interface CertificateRecord {
  certificateId: string; // 64 hex = SHA-256 of the DER
  certificateArn: string;
  certificatePem: string;
  status: CertificateStatus;
  creationDate: string; // ISO 8601
  caCertificateId?: string;
}

export interface PolicyRecord {
  policyName: string;
  policyArn: string;
  policyDocument: string; // JSON text as given
  defaultVersionId: string;
}

export interface ThingRecord {
  thingName: string;
  thingArn: string;
  thingId: string;
  attributes: Record<string, string>;
  thingTypeName?: string;
  version: number;
}

/** What the broker needs to know; implemented by the control plane's registry. */
export interface StoreView {
  readonly region: string;
  readonly accountId: string;
  /** By certificate id (= SHA-256 hex of the DER the client presented). */
  getCertificate(certificateId: string): CertificateRecord | undefined;
  /** Thing names the certificate (by ARN) is attached to. */
  principalThings(certificateArn: string): string[];
  /** Policies attached to the certificate (by ARN), with their documents. */
  principalPolicies(certificateArn: string): PolicyRecord[];
  /** Called when a certificate changes status or is detached, so live connections can be re-checked. */
  onChange(listener: () => void): () => void;
}
