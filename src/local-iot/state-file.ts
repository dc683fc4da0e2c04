/**
 * The local AWS IoT's state file: what it stores, reading it back, and the
 * write queue that puts every acknowledged change on disk (atomic replace,
 * group commit) before the caller is answered.
 */
import { existsSync, readFileSync } from "node:fs";
import { ProvisionError } from "../errors.js";
import { ApiError } from "./api-error.js";
import { writeFileAtomic } from "./atomic-file.js";
import type { CertificateRecord, PolicyRecord, ThingRecord } from "./types.js";

export const STATE_FILE = "state.json";
const STATE_FORMAT_VERSION = 1;

export type ThingPrincipalType = "EXCLUSIVE_THING" | "NON_EXCLUSIVE_THING";

export interface StoredCertificate extends CertificateRecord {
  lastModifiedDate: string;
  notBefore: string;
  notAfter: string;
}

export interface StoredPolicy extends PolicyRecord {
  creationDate: string;
  lastModifiedDate: string;
  generationId: string;
}

export interface StoredThing extends ThingRecord {
  creationDate: string;
}

export interface ThingPrincipalLink {
  thingName: string;
  principal: string;
  type: ThingPrincipalType;
  /** Epoch ms at which an acknowledged DetachThingPrincipal takes effect. */
  detachAtMs?: number;
}

export interface StateFile {
  formatVersion: number;
  certificates: Record<string, StoredCertificate>;
  things: Record<string, StoredThing>;
  policies: Record<string, StoredPolicy>;
  /** policyName -> target ARNs */
  policyTargets: Record<string, string[]>;
  thingPrincipals: ThingPrincipalLink[];
}

function emptyState(): StateFile {
  return {
    formatVersion: STATE_FORMAT_VERSION,
    certificates: {},
    things: {},
    policies: {},
    policyTargets: {},
    thingPrincipals: [],
  };
}

export function loadStateFile(statePath: string): StateFile {
  if (!existsSync(statePath)) return emptyState();
  const text = readFileSync(statePath, "utf8");
  let parsed: StateFile;
  try {
    parsed = JSON.parse(text) as StateFile;
  } catch (e) {
    throw new ProvisionError(
      "CONFIG",
      `local AWS IoT state file is not valid JSON: ${(e as Error).message}`,
      {
        where: statePath,
        hint: "move the file away to start with an empty registry (writes are atomic, so this is not a crash leftover)",
        cause: e,
      },
    );
  }
  if (parsed?.formatVersion !== STATE_FORMAT_VERSION) {
    throw new ProvisionError(
      "CONFIG",
      `local AWS IoT state file has format ${String(parsed?.formatVersion)}, this version reads ${STATE_FORMAT_VERSION}`,
      {
        where: statePath,
        hint: "use the provision version that wrote it, or move the file away to start empty",
      },
    );
  }
  return { ...emptyState(), ...parsed };
}

/** Writes snapshots of the state in order; a stopped writer refuses to write. */
export class StateFileWriter {
  /** The last write queued or running. */
  private saving: Promise<void> = Promise.resolve();
  /** A queued write that has not taken its snapshot yet; later mutations ride along. */
  private pendingWrite: Promise<void> | undefined;
  /** The newest write that has taken its snapshot (running or finished). */
  private lastWrite: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(private readonly path: string) {}

  /**
   * Resolves once every mutation made so far is on disk. Group commit: while
   * one write runs, all mutations made meanwhile share the next write, so
   * concurrent requests cost one fsync, not one each.
   */
  persist(snapshot: () => string): Promise<void> {
    // A request still running when the service stopped must not write: another instance may own
    // the state dir by now, and this stale snapshot would replace its acknowledged changes.
    if (this.closed) {
      return Promise.reject(new ApiError("ServiceUnavailableException", "The local AWS IoT has stopped"));
    }
    if (this.pendingWrite) return this.pendingWrite;
    const write = this.saving.then(() => {
      // The snapshot is taken now, synchronously: it holds every mutation whose
      // caller joined this write, and later mutations queue a new one.
      this.pendingWrite = undefined;
      this.lastWrite = write;
      return writeFileAtomic(this.path, snapshot());
    });
    this.pendingWrite = write;
    // A failed write must not poison later ones; the requests waiting on it report it.
    this.saving = write.catch(() => {});
    return write;
  }

  /**
   * For a request that changes nothing: it must not be answered before an
   * earlier request's change it confirms is on disk (a retry racing the
   * first attempt's write). Retries the write when the last one failed.
   */
  async durable(snapshot: () => string): Promise<void> {
    try {
      await (this.pendingWrite ?? this.lastWrite);
    } catch {
      await this.persist(snapshot);
    }
  }

  /** Resolves once every write queued so far has finished; later writes are refused. */
  async close(): Promise<void> {
    this.closed = true;
    await this.saving;
  }
}
