/**
 * The station command's side of `--ui`: the view is bound before the
 * station opens the cloud or a port (a port in use, a bad token file: exit 2
 * with nothing touched), told what the station runs against once it knows,
 * and given the secrets no page may show.
 */
import type { ProvisionPlan } from "../provision/plan.js";
import type { CloudTarget } from "../provision/target.js";
import type { RatePlan } from "../station/rate-plan.js";
import { PER_DEVICE_OPERATIONS } from "../station/rate-plan.js";
import { uiBind } from "./bind.js";
import type { UiInfo } from "./state.js";
import { type StationUi, startStationUi } from "./station-server.js";

export interface StationUiContext {
  target: CloudTarget;
  rates: RatePlan;
  ledgerFile: string;
  manifest: { csvFile: string; jsonlFile: string };
  concurrency: number;
  plan: ProvisionPlan;
  /** "port list", "--watch" or "--fixture FILE". */
  ports: string;
  /** `--flash`: boards are flashed in their slots first. */
  flash: boolean;
  /** The rate store as the station names it (no password), and its URL (for its password). */
  rateStore?: { description: string; url: string };
}

export interface StationUiHandle extends StationUi {
  /** What the page says about the station, and the secrets it must never show. */
  describe(context: StationUiContext): void;
}

/** Where the per-device quotas came from: Service Quotas, AWS's defaults (naming them), --quota. */
function quotaSource(rates: RatePlan): string {
  const from = (f: string) =>
    PER_DEVICE_OPERATIONS.filter((op) => (rates.quotas[op]?.from ?? "default") === f);
  const parts: string[] = [];
  if (from("account").length > 0) parts.push("Service Quotas (iotcore)");
  if (from("default").length > 0) parts.push(`AWS's defaults for ${from("default").join(", ")}`);
  if (from("--quota").length > 0) parts.push(`--quota for ${from("--quota").join(", ")}`);
  const source = parts.join("; ");
  return rates.fallbackReason === undefined
    ? source
    : `${source} (Service Quotas unread: ${rates.fallbackReason})`;
}

/** The header of the page: target, account and region, quota source, files. */
export function stationUiInfo(c: StationUiContext): Partial<UiInfo> {
  return {
    target: c.target.kind === "local" ? "local AWS IoT" : "AWS IoT",
    region: c.target.region,
    endpoint: c.target.registry.endpointDescription,
    quotaSource: quotaSource(c.rates),
    binding: { operation: c.rates.binding.operation, devicesPerMin: c.rates.binding.devicesPerMin },
    ledger: c.ledgerFile,
    manifest: { csv: c.manifest.csvFile, jsonl: c.manifest.jsonlFile },
    concurrency: c.concurrency,
    until: c.plan.until === "committed" ? "committed set after a restart" : "first publish",
    ports: c.ports,
    flash: c.flash,
    ...(c.rateStore ? { rateStore: c.rateStore.description } : {}),
  };
}

function passwordOf(url: string | undefined): string | undefined {
  try {
    return url === undefined ? undefined : decodeURIComponent(new URL(url).password) || undefined;
  } catch {
    return undefined;
  }
}

/** Binds the view (exit 2 on a bad --ui, --ui-token-file or a port in use) and prints its URL. */
export async function openStationUi(
  flags: { ui: string; uiTokenFile?: string },
  stationId: string,
  info: (text: string) => void,
): Promise<StationUiHandle> {
  const bind = uiBind(flags.ui, flags.uiTokenFile);
  const ui = await startStationUi(bind, { stationId, target: "" }, [bind.token]);
  info(
    `station view: ${ui.url}` +
      (bind.loopback
        ? ""
        : ` (listening on ${bind.host}:${ui.port}; the token in the URL is the key to the page: give it only to the line)`),
  );
  return {
    ...ui,
    describe(c) {
      const local = c.target.local?.credentials;
      ui.addSecrets([
        c.plan.wifi?.password,
        passwordOf(c.rateStore?.url),
        process.env.PROVISION_RATE_STORE_PASSWORD,
        process.env.AWS_SECRET_ACCESS_KEY,
        process.env.AWS_SESSION_TOKEN,
        local?.secretAccessKey,
        local?.sessionToken,
      ]);
      ui.setInfo(stationUiInfo(c));
    },
  };
}
