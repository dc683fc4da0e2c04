/**
 * CloudRegistry on @aws-sdk/client-iot: standard credential chain and
 * profiles (never keys on the command line), the SDK's retry modes, and an
 * endpoint override (AWS_ENDPOINT_URL_IOT or `endpoint`) for the local AWS IoT.
 */
import {
  AttachPolicyCommand,
  AttachThingPrincipalCommand,
  CreateCertificateFromCsrCommand,
  CreatePolicyCommand,
  CreateThingCommand,
  DeleteCertificateCommand,
  DeleteThingCommand,
  DescribeCertificateCommand,
  DescribeEndpointCommand,
  DescribeThingCommand,
  DetachPolicyCommand,
  DetachThingPrincipalCommand,
  GetPolicyCommand,
  ListAttachedPoliciesCommand,
  ListCertificatesCommand,
  ListPrincipalThingsCommand,
  ListThingPrincipalsCommand,
  ListThingPrincipalsV2Command,
  ListThingsCommand,
  UpdateCertificateCommand,
} from "@aws-sdk/client-iot";
import type { AwsCredentialIdentityProvider } from "@smithy/types";
import debugFactory from "debug";
import { ProvisionError } from "../errors.js";
import { AwsIotCalls } from "./aws-calls.js";
import { awsThingAttributes, canonicalJson } from "./aws-values.js";
import type {
  CertificateDescription,
  CertificateListEntry,
  CertificateStatus,
  CloudRegistry,
  IssuedCertificate,
  PolicyResult,
  ThingPrincipal,
  ThingResult,
  WaitOptions,
} from "./registry.js";

const debug = debugFactory("provision:registry");

export const DETACH_WAIT_TIMEOUT_MS_DEFAULT = 30_000;
export const DETACH_POLL_INTERVAL_MS_DEFAULT = 250;
/** DeleteConflictException means "still attached"; detaching is asynchronous, so a few tries are expected. */
export const DELETE_CONFLICT_RETRIES = 6;
export const DELETE_CONFLICT_DELAY_MS = 500;
export const ENDPOINT_TYPE_ATS = "iot:Data-ATS";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The AWS IoT registry's operations, in AWS's order for rollback; the SDK calls go through AwsIotCalls. */
export class AwsCloudRegistry extends AwsIotCalls implements CloudRegistry {
  /** Policies found (or made) with the wanted document in this process, by name + canonical document. */
  private readonly knownPolicies = new Map<string, PolicyResult>();
  private readonly detachWait: Required<WaitOptions>;

  /** Use createAwsRegistry(), which resolves the region first. */
  constructor(...args: ConstructorParameters<typeof AwsIotCalls>) {
    super(...args);
    const options = args[4];
    this.detachWait = {
      timeoutMs: options.detachWait?.timeoutMs ?? DETACH_WAIT_TIMEOUT_MS_DEFAULT,
      intervalMs: options.detachWait?.intervalMs ?? DETACH_POLL_INTERVAL_MS_DEFAULT,
    };
  }

  async createCertificateFromCsr(csrPem: string, setAsActive: boolean): Promise<IssuedCertificate> {
    const send = () =>
      this.certificateClient.send(
        new CreateCertificateFromCsrCommand({ certificateSigningRequest: csrPem, setAsActive }),
      );
    let out: Awaited<ReturnType<typeof send>> | undefined;
    // With a limiter, throttling is already retried there.
    const attempts = this.limiter ? 1 : this.maxAttempts;
    for (let attempt = 1; out === undefined; attempt++) {
      try {
        out = await this.call("CreateCertificateFromCsr", undefined, send);
      } catch (e) {
        if (!(e instanceof ProvisionError) || e.code !== "CLOUD_THROTTLED" || attempt >= attempts) {
          if (e instanceof ProvisionError) e.details.attempts = attempt;
          throw e;
        }
        // Full jitter, as the SDK's standard mode does (base 100 ms, cap 20 s).
        await sleep(Math.random() * Math.min(20_000, 100 * 2 ** attempt));
      }
    }
    if (!out.certificateId || !out.certificateArn || !out.certificatePem) {
      // AWS answered success, so it may well have issued one: the caller must search for it.
      throw new ProvisionError("CLOUD_FAILED", "CreateCertificateFromCsr answered without a certificate", {
        where: "CreateCertificateFromCsr",
        details: { operation: "CreateCertificateFromCsr", unclearOutcome: true },
      });
    }
    return {
      certificateId: out.certificateId,
      certificateArn: out.certificateArn,
      certificatePem: out.certificatePem,
    };
  }

  async describeThing(thingName: string) {
    const out = await this.callOrNotFound("DescribeThing", thingName, () =>
      this.client.send(new DescribeThingCommand({ thingName })),
    );
    if (out === undefined) return undefined;
    return { thingName, thingArn: out.thingArn ?? "", attributes: out.attributes ?? {} };
  }

  async createThing(
    thingName: string,
    attributes: Record<string, string>,
    options: { lookedUp?: boolean } = {},
  ): Promise<ThingResult> {
    const existing = options.lookedUp === true ? undefined : await this.describeThing(thingName);
    if (existing !== undefined) return { thingName, thingArn: existing.thingArn, created: false };
    try {
      const out = await this.call("CreateThing", thingName, () =>
        this.client.send(
          new CreateThingCommand({
            thingName,
            attributePayload: { attributes: awsThingAttributes(attributes) },
          }),
        ),
      );
      return { thingName, thingArn: out.thingArn ?? "", thingId: out.thingId, created: true };
    } catch (e) {
      // Another station created it between our DescribeThing and CreateThing.
      if (e instanceof ProvisionError && e.details.awsError === "ResourceAlreadyExistsException") {
        const now = await this.describeThing(thingName);
        if (now !== undefined) return { thingName, thingArn: now.thingArn, created: false };
      }
      throw e;
    }
  }

  async ensurePolicy(policyName: string, policyDocument: string): Promise<PolicyResult> {
    const compare = (existing: { policyArn?: string; policyDocument?: string }): PolicyResult => {
      if (canonicalJson(existing.policyDocument ?? "") !== canonicalJson(policyDocument)) {
        throw new ProvisionError(
          "CONFIG",
          `policy ${policyName} already exists with a different document; the tool will not change a policy other devices may use`,
          {
            where: `GetPolicy ${policyName}`,
            hint: "choose another policy name, or update the policy deliberately (aws iot create-policy-version)",
          },
        );
      }
      return { policyName, policyArn: existing.policyArn ?? "", created: false };
    };
    // A station checks the same policy for every device: once seen equal, it stays equal for this process
    // (the tool never changes a policy), which saves one rate-limited call per device.
    const key = `${policyName}\n${canonicalJson(policyDocument)}`;
    const known = this.knownPolicies.get(key);
    if (known) return { ...known, created: false };
    const remember = (r: PolicyResult) => {
      this.knownPolicies.set(key, r);
      return r;
    };
    const get = () =>
      this.callOrNotFound("GetPolicy", policyName, () =>
        this.client.send(new GetPolicyCommand({ policyName })),
      );
    const existing = await get();
    if (existing !== undefined) return remember(compare(existing));
    try {
      const out = await this.call("CreatePolicy", policyName, () =>
        this.client.send(new CreatePolicyCommand({ policyName, policyDocument })),
      );
      return remember({ policyName, policyArn: out.policyArn ?? "", created: true });
    } catch (e) {
      if (e instanceof ProvisionError && e.details.awsError === "ResourceAlreadyExistsException") {
        const now = await get();
        if (now !== undefined) return remember(compare(now));
      }
      throw e;
    }
  }

  async attachPolicy(policyName: string, certificateArn: string): Promise<void> {
    await this.call("AttachPolicy", policyName, () =>
      this.client.send(new AttachPolicyCommand({ policyName, target: certificateArn })),
    );
  }

  async attachThingPrincipal(
    thingName: string,
    certificateArn: string,
    options: { exclusive: boolean },
  ): Promise<void> {
    await this.call("AttachThingPrincipal", thingName, () =>
      this.client.send(
        new AttachThingPrincipalCommand({
          thingName,
          principal: certificateArn,
          thingPrincipalType: options.exclusive ? "EXCLUSIVE_THING" : "NON_EXCLUSIVE_THING",
        }),
      ),
    );
  }

  async describeEndpoint(): Promise<string> {
    const out = await this.call("DescribeEndpoint", ENDPOINT_TYPE_ATS, () =>
      this.client.send(new DescribeEndpointCommand({ endpointType: ENDPOINT_TYPE_ATS })),
    );
    if (!out.endpointAddress) {
      throw new ProvisionError("CLOUD_FAILED", "DescribeEndpoint answered without an address", {
        where: "DescribeEndpoint",
      });
    }
    return out.endpointAddress;
  }

  async describeCertificate(certificateId: string): Promise<CertificateDescription | undefined> {
    const out = await this.callOrNotFound("DescribeCertificate", certificateId, () =>
      this.client.send(new DescribeCertificateCommand({ certificateId })),
    );
    const d = out?.certificateDescription;
    if (d === undefined) return undefined;
    return {
      certificateId: d.certificateId ?? certificateId,
      certificateArn: d.certificateArn ?? "",
      status: (d.status ?? "ACTIVE") as CertificateStatus,
      certificatePem: d.certificatePem ?? "",
      creationDate: d.creationDate,
    };
  }

  async listCertificates(options: { maxItems?: number } = {}): Promise<CertificateListEntry[]> {
    const maxItems = options.maxItems ?? 10_000;
    const out: CertificateListEntry[] = [];
    let marker: string | undefined;
    do {
      const page = await this.call("ListCertificates", undefined, () =>
        this.client.send(new ListCertificatesCommand({ marker, pageSize: 250, ascendingOrder: false })),
      );
      for (const c of page.certificates ?? []) {
        out.push({
          certificateId: c.certificateId ?? "",
          certificateArn: c.certificateArn ?? "",
          status: (c.status ?? "ACTIVE") as CertificateStatus,
          creationDate: c.creationDate,
        });
      }
      marker = page.nextMarker;
    } while (marker && out.length < maxItems);
    return out;
  }

  listPrincipalThings(certificateArn: string): Promise<string[]> {
    return this.collect(
      "ListPrincipalThings",
      certificateArn,
      (nextToken) =>
        this.client.send(new ListPrincipalThingsCommand({ principal: certificateArn, nextToken })),
      (p) => ({ items: p.things ?? [], next: p.nextToken }),
    );
  }

  listThingPrincipals(thingName: string): Promise<string[]> {
    return this.collect(
      "ListThingPrincipals",
      thingName,
      (nextToken) => this.client.send(new ListThingPrincipalsCommand({ thingName, nextToken })),
      (p) => ({ items: p.principals ?? [], next: p.nextToken }),
    );
  }

  listThingPrincipalsV2(thingName: string): Promise<ThingPrincipal[]> {
    return this.collect(
      "ListThingPrincipalsV2",
      thingName,
      (nextToken) => this.client.send(new ListThingPrincipalsV2Command({ thingName, nextToken })),
      (p) => ({
        items: (p.thingPrincipalObjects ?? []).map((o) => ({
          principal: o.principal ?? "",
          exclusive: o.thingPrincipalType === "EXCLUSIVE_THING",
        })),
        next: p.nextToken,
      }),
    );
  }

  listThings(): Promise<string[]> {
    return this.collect(
      "ListThings",
      "things",
      (nextToken) => this.client.send(new ListThingsCommand({ nextToken, maxResults: 250 })),
      (p) => ({
        items: (p.things ?? []).flatMap((t) => (t.thingName ? [t.thingName] : [])),
        next: p.nextToken,
      }),
    );
  }

  listAttachedPolicies(certificateArn: string): Promise<string[]> {
    return this.collect(
      "ListAttachedPolicies",
      certificateArn,
      (marker) =>
        this.client.send(
          new ListAttachedPoliciesCommand({ target: certificateArn, marker, recursive: false }),
        ),
      (p) => ({
        items: (p.policies ?? []).flatMap((x) => (x.policyName ? [x.policyName] : [])),
        next: p.nextMarker,
      }),
    );
  }

  // Rollback operations are idempotent: a resource already gone counts as done,
  // so `provision cleanup` can run any number of times.

  async deactivateCertificate(certificateId: string): Promise<void> {
    await this.callOrNotFound("UpdateCertificate", certificateId, () =>
      this.client.send(new UpdateCertificateCommand({ certificateId, newStatus: "INACTIVE" })),
    );
  }

  async detachThingPrincipal(
    thingName: string,
    certificateArn: string,
    wait: WaitOptions = {},
  ): Promise<void> {
    await this.callOrNotFound("DetachThingPrincipal", thingName, () =>
      this.client.send(new DetachThingPrincipalCommand({ thingName, principal: certificateArn })),
    );
    const timeoutMs = wait.timeoutMs ?? this.detachWait.timeoutMs;
    let intervalMs = wait.intervalMs ?? this.detachWait.intervalMs;
    const deadline = Date.now() + timeoutMs;
    // Detaching is asynchronous in AWS IoT: DeleteCertificate fails until the link is really gone.
    for (;;) {
      const things = await this.listPrincipalThings(certificateArn);
      if (!things.includes(thingName)) return;
      if (Date.now() >= deadline) {
        throw new ProvisionError(
          "CLOUD_FAILED",
          `certificate is still attached to thing ${thingName} ${timeoutMs} ms after DetachThingPrincipal`,
          {
            where: `DetachThingPrincipal ${thingName}`,
            details: { operation: "DetachThingPrincipal", certificateArn },
          },
        );
      }
      await sleep(Math.min(intervalMs, Math.max(0, deadline - Date.now())));
      intervalMs = Math.min(intervalMs * 2, 2000);
    }
  }

  async detachPolicy(policyName: string, certificateArn: string): Promise<void> {
    await this.callOrNotFound("DetachPolicy", policyName, () =>
      this.client.send(new DetachPolicyCommand({ policyName, target: certificateArn })),
    );
  }

  async deleteCertificate(certificateId: string): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.callOrNotFound("DeleteCertificate", certificateId, () =>
          this.client.send(new DeleteCertificateCommand({ certificateId, forceDelete: false })),
        );
        return;
      } catch (e) {
        const conflict = e instanceof ProvisionError && e.details.awsError === "DeleteConflictException";
        if (!conflict || attempt >= DELETE_CONFLICT_RETRIES) throw e;
        debug("DeleteCertificate %s: still attached, retry %d", certificateId, attempt);
        await sleep(DELETE_CONFLICT_DELAY_MS * attempt);
      }
    }
  }

  async deleteThing(thingName: string): Promise<void> {
    await this.callOrNotFound("DeleteThing", thingName, () =>
      this.client.send(new DeleteThingCommand({ thingName })),
    );
  }

  /**
   * The client's resolved credential provider, for signing the observer's
   * WSS URL with the same identity (presignedObserverUrl). Errors map like
   * any call's (CLOUD_NO_CREDENTIALS).
   */
  credentialProvider(): AwsCredentialIdentityProvider {
    return async () => {
      try {
        return await this.client.config.credentials();
      } catch (e) {
        throw this.mapError(e, "Connect", "observer");
      }
    };
  }

  async close(): Promise<void> {
    if (this.ownsLimiter) await this.limiter?.stop();
    this.client.destroy();
    this.certificateClient.destroy();
  }
}
