/** Values as AWS IoT wants them: canonical policy JSON, thing attributes within its patterns. */

/** Canonical JSON (sorted keys) so a policy AWS re-formatted still compares equal. */
export function canonicalJson(text: string): string {
  const sort = (v: unknown): unknown =>
    Array.isArray(v)
      ? v.map(sort)
      : v !== null && typeof v === "object"
        ? Object.fromEntries(
            Object.keys(v as object)
              .sort()
              .map((k) => [k, sort((v as Record<string, unknown>)[k])]),
          )
        : v;
  try {
    return JSON.stringify(sort(JSON.parse(text)));
  } catch {
    return text;
  }
}

/**
 * AWS refuses thing attributes outside its patterns (InvalidRequestException):
 * names [a-zA-Z0-9_.,@/:#-]{1,128}, values [a-zA-Z0-9_.,@/:#=\[\]-]{0,800}.
 * Other characters become "_" (a firmware version "1.0.0+board" is stored
 * as "1.0.0_board") rather than failing every registration.
 */
export function awsThingAttributes(attributes: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(attributes)) {
    const name = k.replace(/[^a-zA-Z0-9_.,@/:#-]/g, "_").slice(0, 128);
    if (name === "") continue;
    out[name] = v.replace(/[^a-zA-Z0-9_.,@/:#=[\]-]/g, "_").slice(0, 800);
  }
  return out;
}
