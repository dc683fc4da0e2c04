/**
 * Where the per-operation rate limiters keep their state. By default each
 * station process limits itself; with a Redis rate store (`--rate-store
 * redis://host:port`) every station pointed at the same Redis shares one
 * budget per operation, which is what an account-wide quota needs when
 * several stations provision into one account. redis-pacer.ts does the
 * sharing; this module only opens and checks the connection.
 */
import { Redis } from "ioredis";
import { ProvisionError } from "../errors.js";

export const RATE_STORE_CONNECT_TIMEOUT_MS = 5_000;
export const REDIS_PORT_DEFAULT = 6379;

const PLAIN_REDIS_ERRORS: [RegExp, string][] = [
  [/ECONNREFUSED/, "connection refused"],
  [/ECONNRESET/, "the connection was reset"],
  [/ETIMEDOUT|timed? ?out/i, "no answer in time"],
  [/ENOTFOUND|EAI_AGAIN/, "host not found"],
  [/EHOSTUNREACH|ENETUNREACH/, "host unreachable"],
  [/max retries per request|Connection is closed|connection closed/i, "the connection is gone"],
  [/NOAUTH|WRONGPASS|invalid password/i, "wrong or missing password"],
];

/** What went wrong with Redis, in plain words (ioredis's own texts name its options). */
export function plainRedisError(e: unknown): string {
  const text = `${(e as NodeJS.ErrnoException)?.code ?? ""} ${(e as Error)?.message ?? String(e)}`;
  return PLAIN_REDIS_ERRORS.find(([re]) => re.test(text))?.[1] ?? (e as Error)?.message ?? String(e);
}

export interface RateStore {
  /** The URL without its password, for messages. */
  readonly description: string;
  readonly redis: Redis;
  close(): Promise<void>;
}

/** Where a rate store URL may come from: never the command line when it holds a password (`ps` shows argv). */
export const RATE_STORE_ENV = "PROVISION_RATE_STORE";
/** The password alone, for a URL without one (from any source). */
export const RATE_STORE_PASSWORD_ENV = "PROVISION_RATE_STORE_PASSWORD";

/** The URL with its password shown as ***, for messages. */
export function redactUrl(url: string): string {
  return url.replace(/(\/\/[^/:@\s]*:)[^@/\s]*@/, "$1***@");
}

function usage(url: string, why: string, from = "--rate-store"): ProvisionError {
  return new ProvisionError("USAGE", `${from} ${redactUrl(url)}: ${why}`, {
    hint: `give a Redis URL like redis://127.0.0.1:6379 (a password goes in ${RATE_STORE_PASSWORD_ENV}, or in the URL set by ${RATE_STORE_ENV} or the config file's rateStore)`,
  });
}

/**
 * The rate store URL and where it came from: `--rate-store`, else
 * PROVISION_RATE_STORE, else the config file's rateStore. A password on the
 * command line is refused: every user of the machine sees argv in `ps` for
 * the whole run. PROVISION_RATE_STORE_PASSWORD supplies one the URL lacks.
 */
export function rateStoreUrlFrom(flag: string | undefined, config: string | undefined): string | undefined {
  if (flag !== undefined && /\/\/[^/@\s]*:[^@/\s]*@/.test(flag)) {
    throw new ProvisionError(
      "USAGE",
      `--rate-store ${redactUrl(flag)}: a password on the command line is visible to every user in \`ps\``,
      {
        hint: `put the URL in ${RATE_STORE_ENV} or the config file's rateStore, or give the password in ${RATE_STORE_PASSWORD_ENV} and the URL without it`,
      },
    );
  }
  const url = flag ?? process.env[RATE_STORE_ENV] ?? config;
  const password = process.env[RATE_STORE_PASSWORD_ENV];
  if (url === undefined || password === undefined || /\/\/[^/@\s]*@/.test(url)) return url;
  return url.replace("//", `//:${encodeURIComponent(password)}@`);
}

interface RedisTarget {
  host: string;
  port: number;
  db: number;
  username?: string;
  password?: string;
  description: string;
}

export function parseRateStoreUrl(url: string): RedisTarget {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw usage(url, "not a URL");
  }
  if (u.protocol !== "redis:") throw usage(url, `unsupported scheme ${u.protocol} (only redis: is)`);
  if (u.hostname === "") throw usage(url, "no host");
  const dbText = u.pathname.replace(/^\//, "");
  if (dbText !== "" && !/^\d{1,2}$/.test(dbText)) throw usage(url, `database ${dbText} is not a number`);
  const port = u.port === "" ? REDIS_PORT_DEFAULT : Number(u.port);
  const target: RedisTarget = {
    host: u.hostname.replace(/^\[(.*)\]$/, "$1"),
    port,
    db: dbText === "" ? 0 : Number(dbText),
    // Never echoed: the description leaves the password out.
    description: `redis://${u.hostname}:${port}${dbText ? `/${dbText}` : ""}`,
  };
  if (u.username) target.username = decodeURIComponent(u.username);
  if (u.password) target.password = decodeURIComponent(u.password);
  return target;
}

/** Connects and waits until Redis answers; an unreachable Redis is a CONFIG error naming it. */
export async function openRateStore(url: string): Promise<RateStore> {
  const target = parseRateStoreUrl(url);
  let lastError: Error | undefined;
  let ready = false;
  const redis = new Redis({
    host: target.host,
    port: target.port,
    db: target.db,
    username: target.username,
    password: target.password,
    connectTimeout: RATE_STORE_CONNECT_TIMEOUT_MS,
    // A command waits at most for one reconnect, so a lost Redis fails calls instead of hanging the station.
    maxRetriesPerRequest: 1,
  });
  let timer: NodeJS.Timeout | undefined;
  // The first failed attempt ends the wait: a station should not start on a Redis it cannot reach.
  const failed = new Promise<"failed">((resolve) => {
    timer = setTimeout(() => resolve("failed"), RATE_STORE_CONNECT_TIMEOUT_MS);
    redis.on("error", (e: Error) => {
      lastError = e;
      if (!ready) resolve("failed");
    });
  });
  const connected = new Promise<"ready">((resolve) => redis.once("ready", () => resolve("ready")));
  const outcome = await Promise.race([connected, failed]);
  clearTimeout(timer);
  if (outcome !== "ready") {
    redis.disconnect();
    throw new ProvisionError(
      "CONFIG",
      `cannot reach the shared rate store ${target.description}: ${lastError ? plainRedisError(lastError) : `no answer within ${RATE_STORE_CONNECT_TIMEOUT_MS / 1000} s`}`,
      {
        where: target.description,
        hint: `start Redis there (or fix host, port, password), or leave the rate store out (--rate-store, ${RATE_STORE_ENV}, rateStore) to limit this station on its own`,
      },
    );
  }
  ready = true;
  return {
    description: target.description,
    redis,
    async close() {
      await redis.quit().catch(() => redis.disconnect());
    },
  };
}
