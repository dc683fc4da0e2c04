import { THING_NAME_PATTERN, THING_NAME_RULE } from "../cloud/iot-names.js";
import { ApiError } from "./api-error.js";
import { CERT_ID_RE, type Page, POLICY_NAME_RE, paginate } from "./rules.js";

export { checkPolicyDocument, type Page } from "./rules.js";

import type {
  StateFile,
  StoredCertificate,
  StoredPolicy,
  StoredThing,
  ThingPrincipalLink,
} from "./state-file.js";
import type { CertificateRecord, PolicyRecord, StoreView } from "./types.js";

/**
 * The store's writes: every change with AWS's rules, on disk before it is
 * answered. The reads (what the broker asks, Describe and List calls) are
 * in StoreReads.
 */

export class StoreReads implements StoreView {
  protected readonly listeners = new Set<() => void>();

  constructor(
    readonly region: string,
    readonly accountId: string,
    protected state: StateFile,
  ) {}

  protected arn(kind: string, name: string): string {
    return `arn:aws:iot:${this.region}:${this.accountId}:${kind}/${name}`;
  }

  protected changed(): void {
    for (const l of this.listeners) {
      try {
        l();
      } catch {
        // A broken listener must not break the control plane.
      }
    }
  }

  /** Links that are in effect now (a detach past its delay is gone). */
  protected liveLinks(): ThingPrincipalLink[] {
    const now = Date.now();
    return this.state.thingPrincipals.filter((l) => l.detachAtMs === undefined || l.detachAtMs > now);
  }

  getCertificate(certificateId: string): CertificateRecord | undefined {
    return this.state.certificates[certificateId];
  }

  principalThings(certificateArn: string): string[] {
    return this.liveLinks()
      .filter((l) => l.principal === certificateArn)
      .map((l) => l.thingName);
  }

  principalPolicies(certificateArn: string): PolicyRecord[] {
    const out: PolicyRecord[] = [];
    for (const [name, targets] of Object.entries(this.state.policyTargets)) {
      const p = this.state.policies[name];
      if (p && targets.includes(certificateArn)) out.push(p);
    }
    return out;
  }

  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  protected certByIdOrThrow(certificateId: string): StoredCertificate {
    if (!CERT_ID_RE.test(certificateId)) {
      throw new ApiError(
        "InvalidRequestException",
        `certificateId ${certificateId} is not 64 lowercase hex digits`,
      );
    }
    const c = this.state.certificates[certificateId];
    if (!c)
      throw new ApiError("ResourceNotFoundException", `The certificate ${certificateId} does not exist`);
    return c;
  }

  /** Certificate ARN -> record, for attach calls that name a principal. */
  protected certByArn(arn: string): StoredCertificate | undefined {
    const m = /^arn:aws:iot:[^:]+:\d{12}:cert\/([0-9a-f]{64})$/.exec(arn);
    if (!m?.[1]) return undefined;
    const c = this.state.certificates[m[1]];
    return c && c.certificateArn === arn ? c : undefined;
  }

  protected certByArnOrThrow(arn: string, field: string): StoredCertificate {
    if (!/^arn:aws:iot:[^:]+:\d{12}:cert\/[0-9a-f]{64}$/.test(arn)) {
      throw new ApiError(
        "InvalidRequestException",
        `${field} ${arn} is not a certificate ARN (arn:aws:iot:REGION:ACCOUNT:cert/ID); the local service supports certificate principals only`,
      );
    }
    const c = this.certByArn(arn);
    if (!c) throw new ApiError("ResourceNotFoundException", `The certificate ${arn} does not exist`);
    return c;
  }

  describeCertificate(certificateId: string): StoredCertificate {
    return this.certByIdOrThrow(certificateId);
  }

  listCertificates(
    marker: string | undefined,
    pageSize: number | undefined,
    ascending: boolean,
  ): Page<StoredCertificate> {
    const all = Object.values(this.state.certificates).sort((a, b) =>
      a.creationDate === b.creationDate
        ? a.certificateId.localeCompare(b.certificateId)
        : a.creationDate.localeCompare(b.creationDate),
    );
    if (!ascending) all.reverse();
    return paginate(all, marker, pageSize, 250);
  }

  protected thingOrThrow(thingName: string): StoredThing {
    if (!THING_NAME_PATTERN.test(thingName)) {
      throw new ApiError(
        "InvalidRequestException",
        `thingName ${JSON.stringify(thingName)} must match ${THING_NAME_RULE}`,
      );
    }
    const t = this.state.things[thingName];
    if (!t) throw new ApiError("ResourceNotFoundException", `Thing ${thingName} cannot be found.`);
    return t;
  }

  describeThing(thingName: string): StoredThing {
    return this.thingOrThrow(thingName);
  }

  listThings(filter: {
    nextToken?: string;
    maxResults?: number;
    attributeName?: string;
    attributeValue?: string;
    usePrefixAttributeValue?: boolean;
    thingTypeName?: string;
  }): Page<StoredThing> {
    let all = Object.values(this.state.things).sort((a, b) => a.thingName.localeCompare(b.thingName));
    if (filter.thingTypeName !== undefined) all = [];
    if (filter.attributeName !== undefined) {
      const name = filter.attributeName;
      all = all.filter((t) => {
        const v = t.attributes[name];
        if (v === undefined) return false;
        if (filter.attributeValue === undefined) return true;
        return filter.usePrefixAttributeValue
          ? v.startsWith(filter.attributeValue)
          : v === filter.attributeValue;
      });
    }
    return paginate(all, filter.nextToken, filter.maxResults, 250);
  }

  protected policyOrThrow(policyName: string): StoredPolicy {
    if (!POLICY_NAME_RE.test(policyName)) {
      throw new ApiError(
        "InvalidRequestException",
        `policyName ${JSON.stringify(policyName)} must match [\\w+=,.@-]{1,128}`,
      );
    }
    const p = this.state.policies[policyName];
    if (!p) throw new ApiError("ResourceNotFoundException", `Policy ${policyName} does not exist`);
    return p;
  }

  getPolicy(policyName: string): StoredPolicy {
    return this.policyOrThrow(policyName);
  }

  listPolicies(
    marker: string | undefined,
    pageSize: number | undefined,
    ascending: boolean,
  ): Page<StoredPolicy> {
    const all = Object.values(this.state.policies).sort((a, b) => a.policyName.localeCompare(b.policyName));
    if (!ascending) all.reverse();
    return paginate(all, marker, pageSize, 250);
  }

  listAttachedPolicies(
    target: string,
    marker: string | undefined,
    pageSize: number | undefined,
  ): Page<StoredPolicy> {
    const cert = this.certByArnOrThrow(target, "target");
    const all = (this.principalPolicies(cert.certificateArn) as StoredPolicy[]).sort((a, b) =>
      a.policyName.localeCompare(b.policyName),
    );
    return paginate(all, marker, pageSize, 250);
  }

  listThingPrincipals(
    thingName: string,
    nextToken: string | undefined,
    maxResults: number | undefined,
  ): Page<string> {
    this.thingOrThrow(thingName);
    const all = this.liveLinks()
      .filter((l) => l.thingName === thingName)
      .map((l) => l.principal)
      .sort();
    return paginate(all, nextToken, maxResults, 250);
  }

  /** ListThingPrincipalsV2: each principal with how it is attached, optionally only one kind. */
  listThingPrincipalsV2(
    thingName: string,
    type: ThingPrincipalLink["type"] | undefined,
    nextToken: string | undefined,
    maxResults: number | undefined,
  ): Page<{ principal: string; thingPrincipalType: ThingPrincipalLink["type"] }> {
    this.thingOrThrow(thingName);
    const all = this.liveLinks()
      .filter((l) => l.thingName === thingName && (type === undefined || l.type === type))
      .map((l) => ({ principal: l.principal, thingPrincipalType: l.type }))
      .sort((a, b) => a.principal.localeCompare(b.principal));
    return paginate(all, nextToken, maxResults, 250);
  }

  listPrincipalThings(
    principal: string,
    nextToken: string | undefined,
    maxResults: number | undefined,
  ): Page<string> {
    const cert = this.certByArnOrThrow(principal, "principal");
    return paginate(this.principalThings(cert.certificateArn).sort(), nextToken, maxResults, 250);
  }

  /** Counts for the service's status line and tests. */
  summary(): { certificates: number; things: number; policies: number } {
    return {
      certificates: Object.keys(this.state.certificates).length,
      things: Object.keys(this.state.things).length,
      policies: Object.keys(this.state.policies).length,
    };
  }
}
