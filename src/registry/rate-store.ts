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

export interface RateStore {
  /** The URL without its password, for messages. */
  readonly description: string;
  readonly redis: Redis;
  close(): Promise<void>;
}

function usage(url: string, why: string): ProvisionError {
  return new ProvisionError("USAGE", `--rate-store ${url}: ${why}`, {
    hint: "give a Redis URL like redis://127.0.0.1:6379 (optionally redis://:PASSWORD@host:port/DB)",
  });
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
      `cannot reach the rate store ${target.description}: ${lastError?.message ?? `no answer within ${RATE_STORE_CONNECT_TIMEOUT_MS / 1000} s`}`,
      {
        where: target.description,
        hint: "start Redis there (or fix host, port, password), or leave --rate-store out to limit this station on its own",
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
