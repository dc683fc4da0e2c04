/**
 * Test helpers for the broker: an in-memory StoreView and a tiny CA that
 * issues real certificates, so tests run real mqtt.js clients over real
 * mutual TLS on 127.0.0.1. Not used by production code.
 */
import "reflect-metadata";
import { createHash, webcrypto } from "node:crypto";
import * as x509 from "@peculiar/x509";
import type { CertificateRecord, CertificateStatus, PolicyRecord, StoreView } from "../types.js";

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

const EC = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const;

function pem(label: string, der: ArrayBuffer): string {
  const b64 = Buffer.from(der).toString("base64");
  return `-----BEGIN ${label}-----\n${b64.replace(/(.{64})/g, "$1\n").replace(/\n$/, "")}\n-----END ${label}-----\n`;
}

export interface IssuedCert {
  certPem: string;
  keyPem: string;
  certificateId: string;
}

export class TestCa {
  private constructor(
    private readonly keys: webcrypto.CryptoKeyPair,
    private readonly cert: x509.X509Certificate,
    readonly caPem: string,
  ) {}

  static async create(name = "Test CA"): Promise<TestCa> {
    const keys = (await webcrypto.subtle.generateKey(EC, true, [
      "sign",
      "verify",
    ])) as webcrypto.CryptoKeyPair;
    const cert = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: "01",
      name: `CN=${name}`,
      notBefore: new Date(Date.now() - 60_000),
      notAfter: new Date(Date.now() + 24 * 3600_000),
      keys,
      signingAlgorithm: EC,
      extensions: [
        new x509.BasicConstraintsExtension(true, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      ],
    });
    return new TestCa(keys, cert, cert.toString("pem"));
  }

  private async issue(cn: string, server: boolean): Promise<IssuedCert> {
    const keys = (await webcrypto.subtle.generateKey(EC, true, [
      "sign",
      "verify",
    ])) as webcrypto.CryptoKeyPair;
    const extensions: x509.Extension[] = [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([
        server ? x509.ExtendedKeyUsage.serverAuth : x509.ExtendedKeyUsage.clientAuth,
      ]),
    ];
    if (server) {
      extensions.push(
        new x509.SubjectAlternativeNameExtension([
          { type: "ip", value: "127.0.0.1" },
          { type: "dns", value: "localhost" },
        ]),
      );
    }
    const cert = await x509.X509CertificateGenerator.create({
      serialNumber: Buffer.from(webcrypto.getRandomValues(new Uint8Array(8)))
        .toString("hex")
        .replace(/^[89a-f]/, "1"),
      subject: `CN=${cn}`,
      issuer: this.cert.subject,
      notBefore: new Date(Date.now() - 60_000),
      notAfter: new Date(Date.now() + 24 * 3600_000),
      signingKey: this.keys.privateKey,
      publicKey: keys.publicKey,
      signingAlgorithm: EC,
      extensions,
    });
    const keyDer = await webcrypto.subtle.exportKey("pkcs8", keys.privateKey);
    return {
      certPem: cert.toString("pem"),
      keyPem: pem("PRIVATE KEY", keyDer),
      certificateId: createHash("sha256").update(Buffer.from(cert.rawData)).digest("hex"),
    };
  }

  issueClient(cn: string): Promise<IssuedCert> {
    return this.issue(cn, false);
  }

  issueServer(): Promise<IssuedCert> {
    return this.issue("localhost", true);
  }
}

/** An in-memory store for broker tests; mutate it with the methods, observe through StoreView. */
export class FakeStore implements StoreView {
  readonly region: string;
  readonly accountId: string;
  private readonly certs = new Map<string, CertificateRecord>();
  private readonly things = new Map<string, Set<string>>(); // certArn -> thing names
  private readonly policies = new Map<string, PolicyRecord[]>(); // certArn -> policies
  private readonly listeners = new Set<() => void>();

  constructor(region = "us-east-1", accountId = "123456789012") {
    this.region = region;
    this.accountId = accountId;
  }

  certArn(certificateId: string): string {
    return `arn:aws:iot:${this.region}:${this.accountId}:cert/${certificateId}`;
  }

  addCertificate(cert: IssuedCert, status: CertificateStatus = "ACTIVE"): string {
    const arn = this.certArn(cert.certificateId);
    this.certs.set(cert.certificateId, {
      certificateId: cert.certificateId,
      certificateArn: arn,
      certificatePem: cert.certPem,
      status,
      creationDate: new Date().toISOString(),
    });
    return arn;
  }

  setStatus(certificateId: string, status: CertificateStatus): void {
    const rec = this.certs.get(certificateId);
    if (!rec) throw new Error(`no certificate ${certificateId}`);
    this.certs.set(certificateId, { ...rec, status });
    this.changed();
  }

  attachThing(certArn: string, thingName: string): void {
    const set = this.things.get(certArn) ?? new Set<string>();
    set.add(thingName);
    this.things.set(certArn, set);
    this.changed();
  }

  attachPolicy(certArn: string, policyName: string, document: object | string): void {
    const text = typeof document === "string" ? document : JSON.stringify(document);
    const list = this.policies.get(certArn) ?? [];
    list.push({
      policyName,
      policyArn: `arn:aws:iot:${this.region}:${this.accountId}:policy/${policyName}`,
      policyDocument: text,
      defaultVersionId: "1",
    });
    this.policies.set(certArn, list);
    this.changed();
  }

  getCertificate(certificateId: string): CertificateRecord | undefined {
    return this.certs.get(certificateId);
  }

  principalThings(certificateArn: string): string[] {
    return [...(this.things.get(certificateArn) ?? [])];
  }

  principalPolicies(certificateArn: string): PolicyRecord[] {
    return [...(this.policies.get(certificateArn) ?? [])];
  }

  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private changed(): void {
    for (const l of this.listeners) l();
  }
}

/** The least-privilege policy of the AWS IoT Developer Guide, for a region and account. */
export function leastPrivilegePolicy(region: string, accountId: string): object {
  const base = `arn:aws:iot:${region}:${accountId}`;
  // biome-ignore lint/suspicious/noTemplateCurlyInString: an AWS policy variable, kept literal
  const thing = "${iot:Connection.Thing.ThingName}";
  return {
    Version: "2012-10-17",
    Statement: [
      { Effect: "Allow", Action: ["iot:Connect"], Resource: [`${base}:client/${thing}`] },
      { Effect: "Allow", Action: ["iot:Publish", "iot:Receive"], Resource: [`${base}:topic/${thing}/*`] },
      { Effect: "Allow", Action: ["iot:Subscribe"], Resource: [`${base}:topicfilter/${thing}/*`] },
    ],
  };
}
