/**
 * The local AWS IoT registry: certificates, things, policies and their
 * attachments, with AWS IoT's rules (no delete of an ACTIVE certificate,
 * conflicts while attached, idempotent CreateThing, asynchronous
 * DetachThingPrincipal). Every mutation is written to the state file before
 * the caller is answered, so a crash loses nothing that was acknowledged.
 *
 * This module knows nothing about HTTP; the control plane maps requests to
 * these methods. It implements StoreView for the broker.
 */

import { randomUUID } from "node:crypto";
import { join } from "node:path";
import { THING_NAME_PATTERN, THING_NAME_RULE } from "../cloud/iot-names.js";
import { ApiError } from "./api-error.js";
import { checkPolicyDocument, POLICY_NAME_RE, sortedRecord } from "./rules.js";
import { StoreReads } from "./store-reads.js";

export { checkPolicyDocument, type Page } from "./rules.js";

import {
  loadStateFile,
  STATE_FILE,
  StateFileWriter,
  type StoredCertificate,
  type StoredPolicy,
  type StoredThing,
  type ThingPrincipalType,
} from "./state-file.js";
import type { CertificateStatus } from "./types.js";

export { STATE_FILE } from "./state-file.js";
/** AWS IoT allows at most 10 policies attached to one target. */
export const MAX_POLICIES_PER_TARGET = 10;
/** Real AWS needs "several seconds"; a short default keeps tests fast but still forces callers to poll. */
export const DETACH_DELAY_MS_DEFAULT = 200;

export type {
  StoredCertificate,
  StoredPolicy,
  StoredThing,
  ThingPrincipalLink,
  ThingPrincipalType,
} from "./state-file.js";

export interface IotStoreOptions {
  stateDir: string;
  region: string;
  accountId: string;
  detachDelayMs?: number;
}

/**
 * The store's writes: every change with AWS's rules, on disk before it is
 * answered. The reads (what the broker asks, Describe and List calls) are
 * in StoreReads.
 */
export class IotStore extends StoreReads {
  private readonly statePath: string;
  private readonly detachDelayMs: number;
  private readonly file: StateFileWriter;
  private readonly timers = new Set<NodeJS.Timeout>();

  constructor(options: IotStoreOptions) {
    const statePath = join(options.stateDir, STATE_FILE);
    super(options.region, options.accountId, loadStateFile(statePath));
    this.statePath = statePath;
    this.detachDelayMs = options.detachDelayMs ?? DETACH_DELAY_MS_DEFAULT;
    this.file = new StateFileWriter(this.statePath);
    // Detaches acknowledged before a restart still take effect on time.
    for (const link of this.state.thingPrincipals) {
      if (link.detachAtMs !== undefined) this.scheduleDetachNotice(link.detachAtMs);
    }
  }

  /** Resolves once every mutation made so far is on disk (group commit: see state-file.ts). */
  private persist(): Promise<void> {
    return this.file.persist(() => JSON.stringify(this.state));
  }

  /** For a request that changes nothing: answered only once the change it confirms is on disk. */
  private durable(): Promise<void> {
    return this.file.durable(() => JSON.stringify(this.state));
  }

  /** Resolves once all acknowledged state is on disk; cancels pending detach notices. */
  async close(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    await this.file.close();
  }

  private scheduleDetachNotice(atMs: number): void {
    const t = setTimeout(
      () => {
        this.timers.delete(t);
        this.changed();
      },
      Math.max(0, atMs - Date.now()),
    );
    t.unref();
    this.timers.add(t);
  }

  private purgeDetached(): void {
    const now = Date.now();
    this.state.thingPrincipals = this.state.thingPrincipals.filter(
      (l) => l.detachAtMs === undefined || l.detachAtMs > now,
    );
  }

  // ---- certificates ----

  async addCertificate(
    cert: { certificateId: string; certificatePem: string; notBefore: Date; notAfter: Date },
    setAsActive: boolean,
  ): Promise<StoredCertificate> {
    const now = new Date().toISOString();
    const record: StoredCertificate = {
      certificateId: cert.certificateId,
      certificateArn: this.arn("cert", cert.certificateId),
      certificatePem: cert.certificatePem,
      status: setAsActive ? "ACTIVE" : "INACTIVE",
      creationDate: now,
      lastModifiedDate: now,
      notBefore: cert.notBefore.toISOString(),
      notAfter: cert.notAfter.toISOString(),
    };
    this.state.certificates[record.certificateId] = record;
    await this.persist();
    return record;
  }

  async updateCertificate(certificateId: string, newStatus: string): Promise<void> {
    const c = this.certByIdOrThrow(certificateId);
    const settable: CertificateStatus[] = ["ACTIVE", "INACTIVE", "REVOKED"];
    if (!settable.includes(newStatus as CertificateStatus)) {
      throw new ApiError(
        "InvalidRequestException",
        `newStatus ${newStatus} cannot be set; use ACTIVE, INACTIVE or REVOKED`,
      );
    }
    if (c.status === "REVOKED" && newStatus !== "REVOKED") {
      throw new ApiError(
        "CertificateStateException",
        `The certificate ${certificateId} is REVOKED and cannot change status`,
      );
    }
    if (c.status === newStatus) return this.durable();
    c.status = newStatus as CertificateStatus;
    c.lastModifiedDate = new Date().toISOString();
    await this.persist();
    this.changed();
  }

  async deleteCertificate(certificateId: string, forceDelete: boolean): Promise<void> {
    const c = this.certByIdOrThrow(certificateId);
    if (c.status === "ACTIVE") {
      throw new ApiError(
        "CertificateStateException",
        `Certificate ${certificateId} is ACTIVE; set it INACTIVE with UpdateCertificate before deleting it`,
      );
    }
    // Links still waiting for their detach delay count as attached, as on AWS.
    if (this.liveLinks().some((l) => l.principal === c.certificateArn)) {
      throw new ApiError(
        "DeleteConflictException",
        `Certificate ${certificateId} is still attached to a thing; detach it (DetachThingPrincipal is asynchronous: poll ListPrincipalThings) and retry`,
      );
    }
    const policies = this.principalPolicies(c.certificateArn);
    if (policies.length > 0 && !forceDelete) {
      throw new ApiError(
        "DeleteConflictException",
        `Certificate ${certificateId} has policies attached (${policies.map((p) => p.policyName).join(", ")}); detach them or pass forceDelete`,
      );
    }
    for (const [name, targets] of Object.entries(this.state.policyTargets)) {
      this.state.policyTargets[name] = targets.filter((t) => t !== c.certificateArn);
    }
    delete this.state.certificates[certificateId];
    this.purgeDetached();
    await this.persist();
    this.changed();
  }

  // ---- things ----

  async createThing(
    thingName: string,
    attributes: Record<string, string>,
    thingTypeName: string | undefined,
  ): Promise<StoredThing> {
    if (!THING_NAME_PATTERN.test(thingName)) {
      throw new ApiError(
        "InvalidRequestException",
        `thingName ${JSON.stringify(thingName)} must match ${THING_NAME_RULE}`,
      );
    }
    if (thingTypeName !== undefined) {
      // The local service has no CreateThingType, so no type can exist.
      throw new ApiError("ResourceNotFoundException", `Thing type ${thingTypeName} does not exist`);
    }
    const existing = this.state.things[thingName];
    if (existing) {
      if (JSON.stringify(sortedRecord(existing.attributes)) === JSON.stringify(sortedRecord(attributes))) {
        await this.durable();
        return existing;
      }
      throw new ApiError(
        "ResourceAlreadyExistsException",
        `Thing ${thingName} already exists in account with different attributes`,
        { resourceId: existing.thingId, resourceArn: existing.thingArn },
      );
    }
    const thing: StoredThing = {
      thingName,
      thingArn: this.arn("thing", thingName),
      thingId: randomUUID(),
      attributes: sortedRecord(attributes),
      version: 1,
      creationDate: new Date().toISOString(),
    };
    this.state.things[thingName] = thing;
    await this.persist();
    return thing;
  }

  async deleteThing(thingName: string, expectedVersion: number | undefined): Promise<void> {
    if (!THING_NAME_PATTERN.test(thingName)) {
      throw new ApiError(
        "InvalidRequestException",
        `thingName ${JSON.stringify(thingName)} must match ${THING_NAME_RULE}`,
      );
    }
    const t = this.state.things[thingName];
    if (!t) return this.durable(); // AWS: deleting a thing that does not exist succeeds
    if (expectedVersion !== undefined && expectedVersion !== t.version) {
      throw new ApiError(
        "VersionConflictException",
        `Thing ${thingName} is at version ${t.version}, not the expected ${expectedVersion}`,
      );
    }
    if (this.liveLinks().some((l) => l.thingName === thingName)) {
      throw new ApiError(
        "InvalidRequestException",
        `Cannot delete thing ${thingName}: principals are still attached; detach them (asynchronous: poll ListThingPrincipals) and retry`,
      );
    }
    delete this.state.things[thingName];
    this.purgeDetached();
    await this.persist();
    this.changed();
  }

  // ---- policies ----

  async createPolicy(policyName: string, policyDocument: string): Promise<StoredPolicy> {
    if (!POLICY_NAME_RE.test(policyName)) {
      throw new ApiError(
        "InvalidRequestException",
        `policyName ${JSON.stringify(policyName)} must match [\\w+=,.@-]{1,128}`,
      );
    }
    checkPolicyDocument(policyDocument);
    const existing = this.state.policies[policyName];
    if (existing) {
      throw new ApiError("ResourceAlreadyExistsException", `Policy ${policyName} already exists`, {
        resourceArn: existing.policyArn,
      });
    }
    const now = new Date().toISOString();
    const p: StoredPolicy = {
      policyName,
      policyArn: this.arn("policy", policyName),
      policyDocument,
      defaultVersionId: "1",
      creationDate: now,
      lastModifiedDate: now,
      generationId: randomUUID().replace(/-/g, ""),
    };
    this.state.policies[policyName] = p;
    this.state.policyTargets[policyName] = [];
    await this.persist();
    return p;
  }

  async deletePolicy(policyName: string): Promise<void> {
    this.policyOrThrow(policyName);
    const targets = this.state.policyTargets[policyName] ?? [];
    if (targets.length > 0) {
      throw new ApiError(
        "DeleteConflictException",
        `Policy ${policyName} is attached to ${targets.length} target(s); detach it first`,
      );
    }
    delete this.state.policies[policyName];
    delete this.state.policyTargets[policyName];
    await this.persist();
  }

  async attachPolicy(policyName: string, target: string): Promise<void> {
    this.policyOrThrow(policyName);
    const cert = this.certByArnOrThrow(target, "target");
    const targets = this.state.policyTargets[policyName] ?? [];
    if (targets.includes(cert.certificateArn)) return this.durable();
    if (this.principalPolicies(cert.certificateArn).length >= MAX_POLICIES_PER_TARGET) {
      throw new ApiError(
        "LimitExceededException",
        `Target ${target} already has ${MAX_POLICIES_PER_TARGET} policies attached`,
      );
    }
    this.state.policyTargets[policyName] = [...targets, cert.certificateArn];
    await this.persist();
    this.changed();
  }

  async detachPolicy(policyName: string, target: string): Promise<void> {
    this.policyOrThrow(policyName);
    const targets = this.state.policyTargets[policyName] ?? [];
    if (!targets.includes(target)) return this.durable();
    this.state.policyTargets[policyName] = targets.filter((t) => t !== target);
    await this.persist();
    this.changed();
  }

  // ---- thing principals ----

  async attachThingPrincipal(thingName: string, principal: string, type: ThingPrincipalType): Promise<void> {
    this.thingOrThrow(thingName);
    const cert = this.certByArnOrThrow(principal, "principal");
    this.purgeDetached();
    const links = this.state.thingPrincipals.filter((l) => l.principal === cert.certificateArn);
    const own = links.find((l) => l.thingName === thingName);
    const others = links.filter((l) => l.thingName !== thingName);
    if (type === "EXCLUSIVE_THING" && others.length > 0) {
      throw new ApiError(
        "InvalidRequestException",
        `Principal ${principal} is already attached to ${others.map((l) => l.thingName).join(", ")}; it cannot be attached exclusively to ${thingName}`,
      );
    }
    const exclusiveElsewhere = others.find((l) => l.type === "EXCLUSIVE_THING");
    if (exclusiveElsewhere) {
      throw new ApiError(
        "InvalidRequestException",
        `Principal ${principal} is attached exclusively to ${exclusiveElsewhere.thingName}`,
      );
    }
    if (own) {
      if (own.detachAtMs === undefined && own.type === type) return this.durable();
      own.type = type;
      delete own.detachAtMs; // re-attaching cancels a pending detach
    } else {
      this.state.thingPrincipals.push({ thingName, principal: cert.certificateArn, type });
    }
    await this.persist();
    this.changed();
  }

  async detachThingPrincipal(thingName: string, principal: string): Promise<void> {
    this.thingOrThrow(thingName);
    if (!principal)
      throw new ApiError("InvalidRequestException", "principal (x-amzn-principal header) is required");
    this.purgeDetached();
    const link = this.state.thingPrincipals.find(
      (l) => l.thingName === thingName && l.principal === principal,
    );
    if (!link || link.detachAtMs !== undefined) return this.durable();
    // AWS acknowledges at once and detaches later; callers must poll.
    link.detachAtMs = Date.now() + this.detachDelayMs;
    await this.persist();
    this.scheduleDetachNotice(link.detachAtMs);
  }
}
