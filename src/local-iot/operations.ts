/**
 * The AWS IoT operations the local service supports, with the restJson1
 * bindings the SDK uses (method, path labels, query, headers, body), taken
 * from @aws-sdk/client-iot's own schemas. Each handler turns a bound request
 * into registry calls and returns the response body shape AWS returns.
 */
import { ApiError } from "./api-error.js";
import { type LocalCa, parseAndCheckCsr } from "./ca.js";
import type { IotStore, StoredCertificate, StoredPolicy, ThingPrincipalType } from "./store.js";

export interface BoundRequest {
  labels: Record<string, string>;
  query: URLSearchParams;
  headers: Record<string, string | string[] | undefined>;
  /** Parsed JSON body ({} when empty). */
  body: Record<string, unknown>;
}

export interface OperationContext {
  store: IotStore;
  ca: LocalCa;
  /** Host name DescribeEndpoint returns for iot:Data-ATS. */
  dataEndpoint: string;
}

/** Response body, or undefined for operations whose output is empty. */
type Handler = (req: BoundRequest, ctx: OperationContext) => Promise<Record<string, unknown> | undefined>;

export interface Route {
  operation: string;
  method: string;
  /** Path segments; `{name}` is a label. */
  segments: string[];
  handler: Handler;
}

/** restJson1 timestamps are epoch seconds. */
function epochSeconds(iso: string): number {
  return new Date(iso).getTime() / 1000;
}

function queryBool(q: URLSearchParams, name: string): boolean | undefined {
  const v = q.get(name);
  if (v === null) return undefined;
  if (v === "true") return true;
  if (v === "false") return false;
  throw new ApiError(
    "InvalidRequestException",
    `Query parameter ${name} must be true or false, got ${JSON.stringify(v)}`,
  );
}

/** marker, pageSize and isAscendingOrder of a List call (false unless given, as AWS). */
function orderedPage(q: URLSearchParams): [string | undefined, number | undefined, boolean] {
  return [queryStr(q, "marker"), queryInt(q, "pageSize"), queryBool(q, "isAscendingOrder") ?? false];
}

function queryInt(q: URLSearchParams, name: string): number | undefined {
  const v = q.get(name);
  if (v === null) return undefined;
  if (!/^-?\d{1,10}$/.test(v)) {
    throw new ApiError(
      "InvalidRequestException",
      `Query parameter ${name} must be an integer, got ${JSON.stringify(v)}`,
    );
  }
  return Number(v);
}

function queryStr(q: URLSearchParams, name: string): string | undefined {
  return q.get(name) ?? undefined;
}

function header(req: BoundRequest, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function requiredHeader(req: BoundRequest, name: string, member: string): string {
  const v = header(req, name);
  if (v === undefined || v === "") {
    throw new ApiError("InvalidRequestException", `${member} is required (header ${name})`);
  }
  return v;
}

function label(req: BoundRequest, name: string): string {
  return req.labels[name] ?? "";
}

function bodyString(req: BoundRequest, name: string, required: true): string;
function bodyString(req: BoundRequest, name: string, required: false): string | undefined;
function bodyString(req: BoundRequest, name: string, required: boolean): string | undefined {
  const v = req.body[name];
  if (v === undefined || v === null) {
    if (required) throw new ApiError("InvalidRequestException", `${name} is required`);
    return undefined;
  }
  if (typeof v !== "string") throw new ApiError("InvalidRequestException", `${name} must be a string`);
  return v;
}

function certificateSummary(c: StoredCertificate): Record<string, unknown> {
  return {
    certificateArn: c.certificateArn,
    certificateId: c.certificateId,
    status: c.status,
    certificateMode: "DEFAULT",
    creationDate: epochSeconds(c.creationDate),
  };
}

function policySummary(p: StoredPolicy): Record<string, unknown> {
  return pick(p, "policyName", "policyArn");
}

/** The members of a stored record that AWS returns as they are. */
function pick<T, K extends keyof T>(record: T, ...keys: K[]): Pick<T, K> {
  return Object.fromEntries(keys.map((k) => [k, record[k]])) as Pick<T, K>;
}

function attributesOf(body: Record<string, unknown>): Record<string, string> {
  const payload = body.attributePayload;
  if (payload === undefined || payload === null) return {};
  const attrs = (payload as { attributes?: unknown }).attributes;
  if (attrs === undefined || attrs === null) return {};
  if (typeof attrs !== "object" || Array.isArray(attrs)) {
    throw new ApiError("InvalidRequestException", "attributePayload.attributes must be a map of strings");
  }
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(attrs)) {
    // AWS's AttributeName and AttributeValue patterns (API reference, AttributePayload).
    if (
      typeof v !== "string" ||
      !/^[a-zA-Z0-9_.,@/:#-]{1,128}$/.test(k) ||
      !/^[a-zA-Z0-9_.,@/:#=[\]-]{0,800}$/.test(v)
    ) {
      throw new ApiError(
        "InvalidRequestException",
        `Attribute ${JSON.stringify(k)} has an invalid name or value: names must match [a-zA-Z0-9_.,@/:#-]{1,128}, values [a-zA-Z0-9_.,@/:#=\\[\\]-]{0,800}`,
      );
    }
    out[k] = v;
  }
  if (Object.keys(out).length > 50)
    throw new ApiError("InvalidRequestException", "A thing can have at most 50 attributes");
  return out;
}

/** The thingPrincipalType query member: AWS's enum, or absent. */
function principalType(v: string | undefined): ThingPrincipalType | undefined {
  if (v === undefined || v === "EXCLUSIVE_THING" || v === "NON_EXCLUSIVE_THING") return v;
  throw new ApiError(
    "InvalidRequestException",
    `thingPrincipalType must be EXCLUSIVE_THING or NON_EXCLUSIVE_THING, got ${JSON.stringify(v)}`,
  );
}

const route = (operation: string, method: string, path: string, handler: Handler): Route => ({
  operation,
  method,
  segments: path.split("/").filter(Boolean),
  handler,
});

export const ROUTES: Route[] = [
  route("CreateCertificateFromCsr", "POST", "/certificates", async (req, ctx) => {
    const setAsActive = queryBool(req.query, "setAsActive") ?? false;
    const { csr } = await parseAndCheckCsr(req.body.certificateSigningRequest);
    const issued = await ctx.ca.issueForCsr(csr);
    const rec = await ctx.store.addCertificate(issued, setAsActive);
    return pick(rec, "certificateArn", "certificateId", "certificatePem");
  }),
  route("DescribeCertificate", "GET", "/certificates/{certificateId}", async (req, ctx) => {
    const c = ctx.store.describeCertificate(label(req, "certificateId"));
    return {
      certificateDescription: {
        certificateArn: c.certificateArn,
        certificateId: c.certificateId,
        status: c.status,
        certificatePem: c.certificatePem,
        ownedBy: ctx.store.accountId,
        creationDate: epochSeconds(c.creationDate),
        lastModifiedDate: epochSeconds(c.lastModifiedDate),
        customerVersion: 1,
        generationId: c.certificateId.slice(0, 32),
        validity: { notBefore: epochSeconds(c.notBefore), notAfter: epochSeconds(c.notAfter) },
        certificateMode: "DEFAULT",
      },
    };
  }),
  route("UpdateCertificate", "PUT", "/certificates/{certificateId}", async (req, ctx) => {
    const newStatus = queryStr(req.query, "newStatus");
    if (!newStatus) throw new ApiError("InvalidRequestException", "newStatus is required");
    await ctx.store.updateCertificate(label(req, "certificateId"), newStatus);
    return undefined;
  }),
  route("DeleteCertificate", "DELETE", "/certificates/{certificateId}", async (req, ctx) => {
    await ctx.store.deleteCertificate(
      label(req, "certificateId"),
      queryBool(req.query, "forceDelete") ?? false,
    );
    return undefined;
  }),
  route("ListCertificates", "GET", "/certificates", async (req, ctx) => {
    const page = ctx.store.listCertificates(...orderedPage(req.query));
    return { certificates: page.items.map(certificateSummary), nextMarker: page.next };
  }),
  route("CreateThing", "POST", "/things/{thingName}", async (req, ctx) => {
    if (req.body.billingGroupName !== undefined) {
      throw new ApiError(
        "ResourceNotFoundException",
        `Billing group ${String(req.body.billingGroupName)} does not exist`,
      );
    }
    const t = await ctx.store.createThing(
      label(req, "thingName"),
      attributesOf(req.body),
      bodyString(req, "thingTypeName", false),
    );
    return { thingName: t.thingName, thingArn: t.thingArn, thingId: t.thingId };
  }),
  route("DescribeThing", "GET", "/things/{thingName}", async (req, ctx) => {
    const t = ctx.store.describeThing(label(req, "thingName"));
    return {
      defaultClientId: t.thingName,
      thingName: t.thingName,
      thingId: t.thingId,
      thingArn: t.thingArn,
      attributes: t.attributes,
      version: t.version,
    };
  }),
  route("DeleteThing", "DELETE", "/things/{thingName}", async (req, ctx) => {
    await ctx.store.deleteThing(label(req, "thingName"), queryInt(req.query, "expectedVersion"));
    return {};
  }),
  route("ListThings", "GET", "/things", async (req, ctx) => {
    const page = ctx.store.listThings({
      nextToken: queryStr(req.query, "nextToken"),
      maxResults: queryInt(req.query, "maxResults"),
      attributeName: queryStr(req.query, "attributeName"),
      attributeValue: queryStr(req.query, "attributeValue"),
      usePrefixAttributeValue: queryBool(req.query, "usePrefixAttributeValue"),
      thingTypeName: queryStr(req.query, "thingTypeName"),
    });
    return {
      things: page.items.map((t) => ({
        thingName: t.thingName,
        thingArn: t.thingArn,
        attributes: t.attributes,
        version: t.version,
      })),
      nextToken: page.next,
    };
  }),
  route("CreatePolicy", "POST", "/policies/{policyName}", async (req, ctx) => {
    const p = await ctx.store.createPolicy(label(req, "policyName"), bodyString(req, "policyDocument", true));
    return { ...pick(p, "policyName", "policyArn", "policyDocument"), policyVersionId: p.defaultVersionId };
  }),
  route("GetPolicy", "GET", "/policies/{policyName}", async (req, ctx) => {
    const p = ctx.store.getPolicy(label(req, "policyName"));
    return {
      ...pick(p, "policyName", "policyArn", "policyDocument", "defaultVersionId", "generationId"),
      creationDate: epochSeconds(p.creationDate),
      lastModifiedDate: epochSeconds(p.lastModifiedDate),
    };
  }),
  route("DeletePolicy", "DELETE", "/policies/{policyName}", async (req, ctx) => {
    await ctx.store.deletePolicy(label(req, "policyName"));
    return undefined;
  }),
  route("ListPolicies", "GET", "/policies", async (req, ctx) => {
    const page = ctx.store.listPolicies(...orderedPage(req.query));
    return { policies: page.items.map(policySummary), nextMarker: page.next };
  }),
  route("AttachPolicy", "PUT", "/target-policies/{policyName}", async (req, ctx) => {
    await ctx.store.attachPolicy(label(req, "policyName"), bodyString(req, "target", true));
    return undefined;
  }),
  route("DetachPolicy", "POST", "/target-policies/{policyName}", async (req, ctx) => {
    await ctx.store.detachPolicy(label(req, "policyName"), bodyString(req, "target", true));
    return undefined;
  }),
  route("ListAttachedPolicies", "POST", "/attached-policies/{target}", async (req, ctx) => {
    const page = ctx.store.listAttachedPolicies(
      label(req, "target"),
      queryStr(req.query, "marker"),
      queryInt(req.query, "pageSize"),
    );
    return { policies: page.items.map(policySummary), nextMarker: page.next };
  }),
  route("AttachThingPrincipal", "PUT", "/things/{thingName}/principals", async (req, ctx) => {
    await ctx.store.attachThingPrincipal(
      label(req, "thingName"),
      requiredHeader(req, "x-amzn-principal", "principal"),
      principalType(queryStr(req.query, "thingPrincipalType")) ?? "NON_EXCLUSIVE_THING",
    );
    return {};
  }),
  route("DetachThingPrincipal", "DELETE", "/things/{thingName}/principals", async (req, ctx) => {
    await ctx.store.detachThingPrincipal(
      label(req, "thingName"),
      requiredHeader(req, "x-amzn-principal", "principal"),
    );
    return {};
  }),
  route("ListThingPrincipals", "GET", "/things/{thingName}/principals", async (req, ctx) => {
    const page = ctx.store.listThingPrincipals(
      label(req, "thingName"),
      queryStr(req.query, "nextToken"),
      queryInt(req.query, "maxResults"),
    );
    return { principals: page.items, nextToken: page.next };
  }),
  route("ListThingPrincipalsV2", "GET", "/things/{thingName}/principals-v2", async (req, ctx) => {
    const page = ctx.store.listThingPrincipalsV2(
      label(req, "thingName"),
      principalType(queryStr(req.query, "thingPrincipalType")),
      queryStr(req.query, "nextToken"),
      queryInt(req.query, "maxResults"),
    );
    return { thingPrincipalObjects: page.items, nextToken: page.next };
  }),
  route("ListPrincipalThings", "GET", "/principals/things", async (req, ctx) => {
    const page = ctx.store.listPrincipalThings(
      requiredHeader(req, "x-amzn-principal", "principal"),
      queryStr(req.query, "nextToken"),
      queryInt(req.query, "maxResults"),
    );
    return { things: page.items, nextToken: page.next };
  }),
  route("DescribeEndpoint", "GET", "/endpoint", async (req, ctx) => {
    const type = queryStr(req.query, "endpointType");
    if (type === "iot:Data-ATS") return { endpointAddress: ctx.dataEndpoint };
    if (type === undefined || type === "iot:Data") {
      // AWS returns the legacy VeriSign-signed endpoint here, which devices
      // trusting only Amazon Root CA 1/3 cannot verify. Answer with a name that
      // cannot resolve so the omission fails locally as it would on AWS.
      return { endpointAddress: "legacy-verisign-endpoint.local-iot.invalid" };
    }
    throw new ApiError(
      "InvalidRequestException",
      `endpointType ${type} is not served by the local AWS IoT; use iot:Data-ATS`,
    );
  }),
];

/** Finds the route for a method and decoded path segments; labels are filled in. */
export function matchRoute(
  method: string,
  segments: string[],
): { route: Route; labels: Record<string, string> } | { methodMismatch: true } | undefined {
  let pathMatched = false;
  for (const r of ROUTES) {
    if (r.segments.length !== segments.length) continue;
    const labels: Record<string, string> = {};
    let ok = true;
    for (let i = 0; i < r.segments.length; i++) {
      const pattern = r.segments[i] as string;
      const actual = segments[i] as string;
      if (pattern.startsWith("{")) labels[pattern.slice(1, -1)] = actual;
      else if (pattern !== actual) {
        ok = false;
        break;
      }
    }
    if (!ok) continue;
    pathMatched = true;
    if (r.method === method) return { route: r, labels };
  }
  return pathMatched ? { methodMismatch: true } : undefined;
}
