/**
 * AWS IoT's request rules the local service enforces: name and id formats,
 * pagination tokens and page sizes, policy documents.
 */
import { ApiError } from "./api-error.js";

export const POLICY_NAME_RE = /^[\w+=,.@-]{1,128}$/;
export const CERT_ID_RE = /^[0-9a-f]{64}$/;

export interface Page<T> {
  items: T[];
  next?: string;
}

/** Opaque pagination tokens: the offset into a stable ordering. */
export function paginate<T>(
  all: T[],
  token: string | undefined,
  pageSize: number | undefined,
  maxPage: number,
): Page<T> {
  let start = 0;
  if (token !== undefined && token !== "") {
    const text = /^[A-Za-z0-9_-]{1,16}$/.test(token) ? Buffer.from(token, "base64url").toString("utf8") : "";
    const decoded = /^\d{1,9}$/.test(text) ? Number(text) : -1;
    if (decoded < 0) {
      throw new ApiError("InvalidRequestException", "The pagination token is not valid");
    }
    start = decoded;
  }
  const size = pageSize ?? maxPage;
  if (!Number.isInteger(size) || size < 1 || size > maxPage) {
    throw new ApiError("InvalidRequestException", `Page size must be an integer from 1 to ${maxPage}`);
  }
  const items = all.slice(start, start + size);
  const end = start + items.length;
  return end < all.length ? { items, next: Buffer.from(String(end)).toString("base64url") } : { items };
}

export function sortedRecord(r: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(r).sort(([a], [b]) => a.localeCompare(b)));
}

/**
 * AWS rejects documents it cannot parse with MalformedPolicyException; the
 * broker evaluates the same document, so refuse what it could not read.
 */
export function checkPolicyDocument(doc: unknown): void {
  if (typeof doc !== "string" || doc.length === 0) {
    throw new ApiError("MalformedPolicyException", "policyDocument is required");
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(doc);
  } catch (e) {
    throw new ApiError(
      "MalformedPolicyException",
      `Policy document is not valid JSON: ${(e as Error).message}`,
    );
  }
  const statements = (parsed as { Statement?: unknown })?.Statement;
  const list = Array.isArray(statements) ? statements : statements ? [statements] : [];
  if (typeof parsed !== "object" || parsed === null || list.length === 0) {
    throw new ApiError(
      "MalformedPolicyException",
      "Policy document must be an object with at least one Statement",
    );
  }
  for (const [i, s] of list.entries()) {
    const st = s as { Effect?: unknown; Action?: unknown; Resource?: unknown };
    if (st?.Effect !== "Allow" && st?.Effect !== "Deny") {
      throw new ApiError("MalformedPolicyException", `Statement ${i}: Effect must be "Allow" or "Deny"`);
    }
    if (st.Action === undefined || st.Resource === undefined) {
      throw new ApiError("MalformedPolicyException", `Statement ${i}: Action and Resource are required`);
    }
  }
}
