/**
 * Per-operation client-side rate limits for a station running many ports
 * against one account. Defaults are the AWS IoT Core quotas from the 2019
 * throttling guide (REFERENCE.md; current values live in Service Quotas,
 * service code `iotcore`); where newer dumps show a higher limit the lower
 * one is kept, because staying under a limit costs little and a throttled
 * CreateCertificateFromCsr can leave an unclear outcome.
 */
import Bottleneck from "bottleneck";

export const IOT_API_TPS_DEFAULT: Readonly<Record<string, number>> = {
  CreateCertificateFromCsr: 15,
  AttachPolicy: 15,
  AttachThingPrincipal: 15,
  CreateThing: 15,
  UpdateCertificate: 10,
  DeleteCertificate: 10,
  RegisterThing: 10,
};
/** Operations without a published figure (Describe*, List*, Detach*, ...). */
export const IOT_API_TPS_UNLISTED = 10;

export type RateLimits = Partial<Record<string, number>>;

/** One bottleneck per operation; `schedule(op, fn)` waits for that operation's slot. */
export class OperationRateLimiter {
  private readonly limiters = new Map<string, Bottleneck>();
  private readonly tps: RateLimits;

  constructor(overrides: RateLimits = {}) {
    this.tps = { ...IOT_API_TPS_DEFAULT, ...overrides };
  }

  tpsFor(operation: string): number {
    return this.tps[operation] ?? IOT_API_TPS_UNLISTED;
  }

  schedule<T>(operation: string, fn: () => Promise<T>): Promise<T> {
    let limiter = this.limiters.get(operation);
    if (limiter === undefined) {
      // minTime spaces calls evenly rather than letting a burst of `tps` through at once.
      limiter = new Bottleneck({ minTime: Math.ceil(1000 / this.tpsFor(operation)) });
      this.limiters.set(operation, limiter);
    }
    return limiter.schedule(fn);
  }

  async stop(): Promise<void> {
    await Promise.all([...this.limiters.values()].map((l) => l.stop({ dropWaitingJobs: false })));
  }
}
