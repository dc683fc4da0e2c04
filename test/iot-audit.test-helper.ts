/**
 * The audit the crash tests and the soak end with, through the real AWS SDK
 * against the local AWS IoT, as one would audit an account:
 *
 * - every ACTIVE certificate is attached to exactly one thing (none loose);
 * - every thing has at most one ACTIVE certificate (no duplicates);
 * - no INACTIVE (or REVOKED) certificate is left attached to a thing;
 * - every device's committed certificate (its STATUS digest) is ACTIVE and
 *   is the one ACTIVE certificate of its thing.
 */
import { createHash } from "node:crypto";
import {
  DescribeCertificateCommand,
  type IoTClient,
  ListCertificatesCommand,
  ListPrincipalThingsCommand,
  ListThingPrincipalsCommand,
  ListThingsCommand,
} from "@aws-sdk/client-iot";

export interface DeviceClaim {
  deviceId: string;
  /** From STATUS: the thing it connects as and the SHA-256 (hex) of its committed certificate PEM. */
  thingName?: string;
  certSha256?: string;
}

export interface AuditFindings {
  certificates: number;
  activeCertificates: number;
  things: number;
  /** Things with more than one ACTIVE certificate. */
  duplicates: { thing: string; active: string[] }[];
  /** ACTIVE certificates attached to no thing. */
  loose: string[];
  /** ACTIVE certificates attached to several things. */
  sharedActive: { certificateId: string; things: string[] }[];
  /** Certificates not ACTIVE but still attached to a thing. */
  inactiveAttached: { certificateId: string; status: string; things: string[] }[];
  /** Devices whose committed certificate is not the ACTIVE certificate of their thing. */
  committedNotActive: { deviceId: string; why: string }[];
}

export function violations(f: AuditFindings): number {
  return (
    f.duplicates.length +
    f.loose.length +
    f.sharedActive.length +
    f.inactiveAttached.length +
    f.committedNotActive.length
  );
}

async function allCertificates(client: IoTClient) {
  const out: { id: string; arn: string; status: string }[] = [];
  let marker: string | undefined;
  do {
    const page = await client.send(new ListCertificatesCommand({ marker, pageSize: 250 }));
    for (const c of page.certificates ?? [])
      out.push({ id: c.certificateId ?? "", arn: c.certificateArn ?? "", status: c.status ?? "" });
    marker = page.nextMarker;
  } while (marker);
  return out;
}

async function pages<T>(fetch: (token?: string) => Promise<{ items: T[]; next?: string }>): Promise<T[]> {
  const out: T[] = [];
  let token: string | undefined;
  do {
    const page = await fetch(token);
    out.push(...page.items);
    token = page.next;
  } while (token);
  return out;
}

export async function auditLocalIot(
  client: IoTClient,
  devices: readonly DeviceClaim[],
): Promise<AuditFindings> {
  const certs = await allCertificates(client);
  const byArn = new Map(certs.map((c) => [c.arn, c]));
  const findings: AuditFindings = {
    certificates: certs.length,
    activeCertificates: certs.filter((c) => c.status === "ACTIVE").length,
    things: 0,
    duplicates: [],
    loose: [],
    sharedActive: [],
    inactiveAttached: [],
    committedNotActive: [],
  };
  for (const c of certs) {
    const things = await pages((nextToken) =>
      client
        .send(new ListPrincipalThingsCommand({ principal: c.arn, nextToken }))
        .then((p) => ({ items: p.things ?? [], next: p.nextToken })),
    );
    if (c.status === "ACTIVE" && things.length === 0) findings.loose.push(c.id);
    if (c.status === "ACTIVE" && things.length > 1)
      findings.sharedActive.push({ certificateId: c.id, things });
    if (c.status !== "ACTIVE" && things.length > 0)
      findings.inactiveAttached.push({ certificateId: c.id, status: c.status, things });
  }
  const things = await pages((nextToken) =>
    client
      .send(new ListThingsCommand({ nextToken }))
      .then((p) => ({ items: (p.things ?? []).map((t) => t.thingName ?? ""), next: p.nextToken })),
  );
  findings.things = things.length;
  const activeOf = new Map<string, string[]>();
  for (const thing of things) {
    const principals = await pages((nextToken) =>
      client
        .send(new ListThingPrincipalsCommand({ thingName: thing, nextToken }))
        .then((p) => ({ items: p.principals ?? [], next: p.nextToken })),
    );
    const active = principals.flatMap((arn) => {
      const c = byArn.get(arn);
      return c?.status === "ACTIVE" ? [c.id] : [];
    });
    activeOf.set(thing, active);
    if (active.length > 1) findings.duplicates.push({ thing, active });
  }
  for (const d of devices) {
    const why = await committedProblem(client, d, activeOf);
    if (why) findings.committedNotActive.push({ deviceId: d.deviceId, why });
  }
  return findings;
}

async function committedProblem(
  client: IoTClient,
  d: DeviceClaim,
  activeOf: ReadonlyMap<string, string[]>,
): Promise<string | undefined> {
  if (!d.thingName || !d.certSha256) return "the device holds no committed credentials";
  const active = activeOf.get(d.thingName) ?? [];
  if (active.length !== 1) return `thing ${d.thingName} has ${active.length} ACTIVE certificates`;
  const described = await client.send(new DescribeCertificateCommand({ certificateId: active[0] }));
  const pem = described.certificateDescription?.certificatePem ?? "";
  const digest = createHash("sha256").update(pem).digest("hex");
  return digest === d.certSha256 ? undefined : `the device holds another certificate than ${active[0]}`;
}

/**
 * The cheap per-device part of the audit (one thing, not the account): the
 * thing has exactly one ACTIVE certificate, no INACTIVE one attached, and it
 * is the one the device committed. Returns what is wrong.
 */
export async function auditDevice(client: IoTClient, d: DeviceClaim): Promise<string[]> {
  if (!d.thingName) return ["the device holds no committed credentials"];
  const principals = await pages((nextToken) =>
    client
      .send(new ListThingPrincipalsCommand({ thingName: d.thingName, nextToken }))
      .then((p) => ({ items: p.principals ?? [], next: p.nextToken })),
  );
  const problems: string[] = [];
  const active: string[] = [];
  for (const arn of principals) {
    const id = arn.slice(arn.lastIndexOf("/") + 1);
    const c = (await client.send(new DescribeCertificateCommand({ certificateId: id })))
      .certificateDescription;
    if (c?.status === "ACTIVE") active.push(id);
    else problems.push(`certificate ${id} is ${c?.status} and still attached to ${d.thingName}`);
  }
  const why = await committedProblem(client, d, new Map([[d.thingName, active]]));
  if (why) problems.push(why);
  return problems;
}
