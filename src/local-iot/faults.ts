/**
 * Fault injection for the local control plane: random throttling and server
 * errors, added latency, and a per-operation rate limit (what AWS's TPS
 * quotas look like to a client). Seedable so tests see the same sequence
 * every run. Also counts every request per operation and outcome.
 */
import { ApiError } from "./api-error.js";

export interface OperationFaults {
  /** Probability 0..1 that a request is answered ThrottlingException before any work is done. */
  throttleRate?: number;
  /** Probability 0..1 of ServiceUnavailableException / InternalFailureException before any work is done. */
  serverErrorRate?: number;
  /**
   * Probability 0..1 of an InternalFailureException AFTER the operation took
   * effect: the unclear failure that makes a blind retry leak a certificate.
   */
  serverErrorAfterCommitRate?: number;
  /** Added to every request, in milliseconds. */
  latencyMs?: number;
  /** Random extra latency, uniform in 0..latencyJitterMs. */
  latencyJitterMs?: number;
  /** Requests per second (sliding 1 s window) above which ThrottlingException is returned. */
  maxRps?: number;
}

export interface FaultConfig {
  /** Seed for the random draws; omit for Math.random. */
  seed?: number;
  /** Applies to every operation unless `operations` names it. */
  default?: OperationFaults;
  /** Per-operation settings, keyed by AWS operation name (e.g. "CreateCertificateFromCsr"); merged over `default`. */
  operations?: Record<string, OperationFaults>;
}

/** Environment variable the CLI reads a FaultConfig from (JSON). */
export const FAULTS_ENV = "PROVISION_LOCAL_IOT_FAULTS";

export interface OperationStats {
  requests: number;
  ok: number;
  /** ThrottlingException answers, injected or rate-limited. */
  throttled: number;
  /** Of `throttled`, those from the maxRps limit. */
  rateLimited: number;
  /** Injected 5xx answers (before and after commit). */
  injectedServerErrors: number;
  /** Other error answers (the request itself was wrong, or a rule refused it). */
  errors: number;
}

export type FaultStats = Record<string, OperationStats>;

const RATE_WINDOW_MS = 1000;
/** Admitted arrival times kept per operation: the window plus room for requests checked out of order. */
const RETAIN_MS = 3 * RATE_WINDOW_MS;

function sortedIndex(sorted: readonly number[], t: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((sorted[mid] as number) <= t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * Whether admitting a request that arrived at `at` would put more than
 * `max` arrivals into some one-second window, as a per-account TPS quota
 * looks from outside. Every window that holds `at` is checked, not only
 * the one ending there: requests are checked in the order their bodies and
 * signatures are done, so a later arrival may already be counted.
 */
export function exceedsWindow(sorted: readonly number[], at: number, max: number): boolean {
  const all = [...sorted];
  const k = sortedIndex(all, at);
  all.splice(k, 0, at);
  const need = Math.floor(max) + 1;
  for (let i = Math.max(0, k - need + 1); i <= k; i++) {
    const j = i + need - 1;
    if (j < all.length && (all[j] as number) - (all[i] as number) < RATE_WINDOW_MS) return true;
  }
  return false;
}

/** mulberry32: tiny, fast, good enough for fault draws. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function checkRate(name: string, v: number | undefined): void {
  if (v !== undefined && (typeof v !== "number" || !(v >= 0 && v <= 1))) {
    throw new TypeError(`fault setting ${name} must be a number from 0 to 1, got ${JSON.stringify(v)}`);
  }
}

function checkNonNegative(name: string, v: number | undefined): void {
  if (v !== undefined && (typeof v !== "number" || !(v >= 0) || !Number.isFinite(v))) {
    throw new TypeError(`fault setting ${name} must be a finite number >= 0, got ${JSON.stringify(v)}`);
  }
}

export function validateFaultConfig(config: FaultConfig): FaultConfig {
  if (typeof config !== "object" || config === null) throw new TypeError("fault config must be an object");
  if (config.seed !== undefined && !Number.isInteger(config.seed)) {
    throw new TypeError(`fault setting seed must be an integer, got ${JSON.stringify(config.seed)}`);
  }
  const all: [string, OperationFaults | undefined][] = [
    ["default", config.default],
    ...Object.entries(config.operations ?? {}).map(([k, v]): [string, OperationFaults] => [
      `operations.${k}`,
      v,
    ]),
  ];
  for (const [where, f] of all) {
    if (f === undefined) continue;
    checkRate(`${where}.throttleRate`, f.throttleRate);
    checkRate(`${where}.serverErrorRate`, f.serverErrorRate);
    checkRate(`${where}.serverErrorAfterCommitRate`, f.serverErrorAfterCommitRate);
    checkNonNegative(`${where}.latencyMs`, f.latencyMs);
    checkNonNegative(`${where}.latencyJitterMs`, f.latencyJitterMs);
    if (f.maxRps !== undefined && (typeof f.maxRps !== "number" || !(f.maxRps > 0))) {
      throw new TypeError(
        `fault setting ${where}.maxRps must be a number > 0, got ${JSON.stringify(f.maxRps)}`,
      );
    }
  }
  return config;
}

/** Reads FaultConfig JSON from the environment variable; undefined when unset. */
export function faultConfigFromEnv(env: NodeJS.ProcessEnv = process.env): FaultConfig | undefined {
  const text = env[FAULTS_ENV];
  if (text === undefined || text.trim() === "") return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new TypeError(`${FAULTS_ENV} is not valid JSON: ${(e as Error).message}`);
  }
  return validateFaultConfig(parsed as FaultConfig);
}

export class FaultInjector {
  private config: FaultConfig = {};
  private random: () => number = Math.random;
  private readonly recent = new Map<string, number[]>();
  private readonly counts = new Map<string, OperationStats>();

  constructor(config: FaultConfig = {}) {
    this.set(config);
  }

  /** Replaces the whole configuration (and reseeds when a seed is given). */
  set(config: FaultConfig): void {
    this.config = validateFaultConfig(structuredClone(config));
    this.random = config.seed === undefined ? Math.random : seededRandom(config.seed);
  }

  private settings(operation: string): OperationFaults {
    return { ...this.config.default, ...this.config.operations?.[operation] };
  }

  private entry(operation: string): OperationStats {
    let s = this.counts.get(operation);
    if (!s) {
      s = { requests: 0, ok: 0, throttled: 0, rateLimited: 0, injectedServerErrors: 0, errors: 0 };
      this.counts.set(operation, s);
    }
    return s;
  }

  /** The configured request limit of an operation (what its quota is locally), if any. */
  maxRpsFor(operation: string): number | undefined {
    return this.settings(operation).maxRps;
  }

  /**
   * Runs before the operation: waits the configured latency, then throws the
   * injected error, if any (counted here, not by recordError). The rate
   * window counts the request at `arrivedAtMs` (plus the latency): the time it
   * reached the service, not the later moment its body was read and its
   * signature checked, which a busy service would spread unevenly.
   */
  async before(operation: string, arrivedAtMs = Date.now()): Promise<void> {
    const f = this.settings(operation);
    const stats = this.entry(operation);
    const delayMs = (f.latencyMs ?? 0) + (f.latencyJitterMs ? this.random() * f.latencyJitterMs : 0);
    if (delayMs > 0) await new Promise((r) => setTimeout(r, delayMs));
    if (f.maxRps !== undefined) {
      const at = arrivedAtMs + delayMs;
      const times = this.recent.get(operation) ?? [];
      if (exceedsWindow(times, at, f.maxRps)) {
        stats.throttled++;
        stats.rateLimited++;
        throw new ApiError(
          "ThrottlingException",
          `Rate exceeded for ${operation} (local limit ${f.maxRps} requests/s)`,
        );
      }
      times.splice(sortedIndex(times, at), 0, at);
      // Requests are checked in the order their bodies and signatures are done, not quite in arrival order.
      while (times.length > 0 && (times[0] as number) < (times.at(-1) as number) - RETAIN_MS) times.shift();
      this.recent.set(operation, times);
    }
    if (f.throttleRate && this.random() < f.throttleRate) {
      stats.throttled++;
      throw new ApiError("ThrottlingException", `Rate exceeded (injected fault on ${operation})`);
    }
    if (f.serverErrorRate && this.random() < f.serverErrorRate) {
      stats.injectedServerErrors++;
      throw this.random() < 0.5
        ? new ApiError("ServiceUnavailableException", `Service unavailable (injected fault on ${operation})`)
        : new ApiError("InternalFailureException", `Internal failure (injected fault on ${operation})`);
    }
  }

  /** Runs after the operation took effect; may turn success into an unclear failure. */
  after(operation: string): void {
    const f = this.settings(operation);
    if (f.serverErrorAfterCommitRate && this.random() < f.serverErrorAfterCommitRate) {
      this.entry(operation).injectedServerErrors++;
      throw new ApiError(
        "InternalFailureException",
        `Internal failure (injected after ${operation} took effect)`,
      );
    }
  }

  /** Counts an incoming request, whatever becomes of it. */
  recordRequest(operation: string): void {
    this.entry(operation).requests++;
  }

  recordOk(operation: string): void {
    this.entry(operation).ok++;
  }

  recordError(operation: string): void {
    this.entry(operation).errors++;
  }

  stats(): FaultStats {
    return Object.fromEntries([...this.counts].map(([k, v]) => [k, { ...v }]));
  }

  resetStats(): void {
    this.counts.clear();
  }
}
