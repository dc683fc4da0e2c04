/**
 * What the station's page shows, as JSON: read from the same SlotViews the
 * terminal's live view draws (src/station/slot.ts) and the device records
 * the station reports, never from anything else. Two rules hold for every
 * string that leaves here: text a device sent is escaped as the terminal
 * escapes it (printable), and the station's secrets (Wi-Fi password, the
 * rate store's password, the local AWS IoT's keys) are cut out, in case an
 * error message ever quotes one. The page sets every string as text
 * (textContent), so markup a device sends is shown, not run.
 */
import { printable } from "../printable.js";
import {
  type DeviceRecord,
  PHASE_LABEL,
  type SlotPhase,
  type SlotResult,
  type SlotView,
} from "../station/index.js";

/** Finished devices are counted per bucket of this length for the rate chart. */
export const RATE_BUCKET_MS = 10_000;
/** Failures the page lists (newest first). */
export const FAILURES_KEPT = 20;
/** Device log lines kept with a failure. */
export const DEVICE_LOG_LINES = 6;
/** Shorter secrets are not cut out: "1" would cut every digit on the page. */
const SECRET_MIN_LENGTH = 4;

/** About the station, fixed once it runs (the account may be learnt from the first certificate). */
export interface UiInfo {
  stationId: string;
  /** "AWS IoT" or "local AWS IoT". */
  target: string;
  region?: string;
  account?: string;
  /** The control plane, e.g. iot.eu-west-1.amazonaws.com or http://127.0.0.1:4566. */
  endpoint?: string;
  /** Where the quotas came from, as the station's first line says it. */
  quotaSource?: string;
  /** The per-device operation that caps the rate, and the rate it allows. */
  binding?: { operation: string; devicesPerMin: number };
  ledger?: string;
  manifest?: { csv: string; jsonl: string };
  concurrency?: number;
  /** What each run ends on: the first publish, or the committed set after a restart. */
  until?: string;
  /** Where the ports come from: the port list, --watch or --fixture. */
  ports?: string;
  /** A shared rate store, without its password. */
  rateStore?: string;
  /** Whether each board is flashed in its slot first (`--flash`). */
  flash?: boolean;
}

export type UiStatus = "starting" | "running" | "finished" | "stopping";

/** A device's result as the terminal view keeps it. */
export type UiResult = SlotResult;

/** A slot as the terminal view draws it, with its step named as there. */
export type UiSlot = Omit<SlotView, "last"> & { step: string; last?: UiResult };

export interface UiFailure extends UiResult {
  slot: string;
  port: string;
  failedStep?: string;
  /** Epoch ms it was reported. */
  at: number;
}

export interface UiTotals {
  done: number;
  failed: number;
  inFlight: number;
  waiting: number;
  devicesPerMin: number;
}

/** What a page gets when it connects. */
export interface UiSnapshot {
  now: number;
  status: UiStatus;
  info: UiInfo;
  slots: UiSlot[];
  totals: UiTotals;
  /** Devices finished per RATE_BUCKET_MS from `from`: [ok, failed] per bucket. */
  rate: { from: number; bucketMs: number; buckets: [number, number][] };
  failures: UiFailure[];
}

/** What changed since the last update (sent at most every few hundred ms). */
export interface UiUpdate {
  now: number;
  status: UiStatus;
  info?: UiInfo;
  slots: UiSlot[];
  totals: UiTotals;
  /** [epoch ms, ok] per device finished since the last update. */
  finished: [number, boolean][];
  failures: UiFailure[];
}

/** What the state reads of the station: its slots, its records and its rate (as the live view does). */
export interface UiSource {
  slots: ReadonlyMap<string, SlotView>;
  rate(): number;
  /** The AWS account, once a certificate's ARN named it. */
  readonly accountId?: string | undefined;
}

/** Phases with no device in flight. */
const IDLE = new Set<SlotPhase>(["waiting", "done", "failed"]);

export class StationUiState {
  status: UiStatus = "starting";
  private info: UiInfo;
  private infoChanged = false;
  private source: UiSource | undefined;
  private secrets: string[] = [];
  private done = 0;
  private failed = 0;
  private rateFrom: number | undefined;
  private readonly buckets: [number, number][] = [];
  private failures: UiFailure[] = [];
  private readonly dirtySlots = new Set<string>();
  private pendingFinished: [number, boolean][] = [];
  private pendingFailures: UiFailure[] = [];

  constructor(info: UiInfo, secrets: readonly (string | undefined)[] = []) {
    this.addSecrets(secrets);
    this.info = this.cleanInfo(info);
  }

  /** Values no string on the page may show (before the first slot is attached). */
  addSecrets(secrets: readonly (string | undefined)[]): void {
    const all = [...this.secrets, ...secrets].filter(
      (s): s is string => s !== undefined && s.length >= SECRET_MIN_LENGTH,
    );
    this.secrets = [...new Set(all)].sort((a, b) => b.length - a.length);
  }

  /** The station's slots and rate from now on. */
  attach(source: UiSource): void {
    this.source = source;
    this.status = "running";
  }

  setInfo(more: Partial<UiInfo>): void {
    this.info = this.cleanInfo({ ...this.info, ...more });
    this.infoChanged = true;
  }

  setStatus(status: UiStatus): void {
    this.status = status;
  }

  /** Station.onSlotChange: remembered until the next update. */
  slotChanged(slot: SlotView): void {
    this.dirtySlots.add(slot.slot);
  }

  /** Station.onDevice: the totals, the chart and the failure list. */
  deviceFinished(record: DeviceRecord, at = Date.now()): void {
    if (record.outcome === "not-started") return;
    const account = this.source?.accountId;
    if (account !== undefined && account !== this.info.account) this.setInfo({ account });
    // The station set the slot's result before it reported the record: the device's last lines are there.
    const deviceLog = this.source?.slots.get(record.slot)?.last?.deviceLog ?? [];
    if (record.ok) this.done++;
    else this.failed++;
    this.rateFrom ??= at - (at % RATE_BUCKET_MS);
    const index = Math.floor((at - this.rateFrom) / RATE_BUCKET_MS);
    while (this.buckets.length <= index) this.buckets.push([0, 0]);
    (this.buckets[index] as [number, number])[record.ok ? 0 : 1]++;
    this.pendingFinished.push([at, record.ok]);
    if (record.ok) return;
    const failure: UiFailure = {
      ...this.result({
        ok: false,
        outcome: record.outcome,
        deviceId: record.deviceId,
        thingName: record.thingName,
        message: record.error?.message,
        hint: record.error?.hint,
        rollback: record.rollback,
        deviceLog: deviceLog.slice(-DEVICE_LOG_LINES),
        totalMs: record.totalMs,
      }),
      slot: this.text(record.slot),
      port: this.text(record.port),
      at,
    };
    if (record.failedStep) failure.failedStep = this.text(record.failedStep);
    this.failures = [failure, ...this.failures].slice(0, FAILURES_KEPT);
    this.pendingFailures.push(failure);
  }

  snapshot(now = Date.now()): UiSnapshot {
    return {
      now,
      status: this.status,
      info: this.info,
      slots: [...(this.source?.slots.values() ?? [])].map((s) => this.slot(s)),
      totals: this.totals(),
      rate: { from: this.rateFrom ?? now, bucketMs: RATE_BUCKET_MS, buckets: [...this.buckets] },
      failures: this.failures,
    };
  }

  /** What changed since the last call; undefined when nothing did. */
  takeUpdate(now = Date.now()): UiUpdate | undefined {
    if (
      this.dirtySlots.size === 0 &&
      this.pendingFinished.length === 0 &&
      !this.infoChanged &&
      this.status === this.sentStatus
    )
      return undefined;
    const slots = [...this.dirtySlots]
      .map((name) => this.source?.slots.get(name))
      .filter((s): s is SlotView => s !== undefined)
      .map((s) => this.slot(s));
    const update: UiUpdate = {
      now,
      status: this.status,
      slots,
      totals: this.totals(),
      finished: this.pendingFinished,
      failures: this.pendingFailures,
    };
    if (this.infoChanged) update.info = this.info;
    this.dirtySlots.clear();
    this.pendingFinished = [];
    this.pendingFailures = [];
    this.infoChanged = false;
    this.sentStatus = this.status;
    return update;
  }

  /** Forget what is pending (no page is connected: the next one gets a snapshot). */
  discardPending(): void {
    this.takeUpdate();
  }

  private sentStatus: UiStatus | undefined;

  private totals(): UiTotals {
    let inFlight = 0;
    let waiting = 0;
    for (const s of this.source?.slots.values() ?? []) {
      if (!IDLE.has(s.phase)) inFlight++;
      else if (s.phase === "waiting") waiting++;
    }
    const rate = this.source?.rate() ?? 0;
    return {
      done: this.done,
      failed: this.failed,
      inFlight,
      waiting,
      devicesPerMin: Math.round(rate * 10) / 10,
    };
  }

  private slot(s: SlotView): UiSlot {
    const out: UiSlot = {
      slot: this.text(s.slot),
      port: this.text(s.port),
      phase: s.phase,
      step: PHASE_LABEL[s.phase],
      okCount: s.okCount,
      failedCount: s.failedCount,
    };
    if (s.usbLocation !== undefined) out.usbLocation = this.text(s.usbLocation);
    if (s.deviceId !== undefined) out.deviceId = this.text(s.deviceId);
    if (s.thingName !== undefined) out.thingName = this.text(s.thingName);
    if (s.startedAt !== undefined) out.startedAt = s.startedAt;
    if (s.note !== undefined) out.note = this.text(s.note);
    if (s.progress !== undefined) out.progress = s.progress;
    if (s.last) {
      out.last = this.result({
        ...s.last,
        deviceLog: s.last.deviceLog?.slice(-DEVICE_LOG_LINES),
      });
    }
    return out;
  }

  private result(r: { [K in keyof UiResult]: UiResult[K] | undefined }): UiResult {
    const out: UiResult = { ok: r.ok === true, outcome: this.text(r.outcome ?? ""), totalMs: r.totalMs ?? 0 };
    for (const key of ["deviceId", "thingName", "certificateId", "message", "hint"] as const) {
      const v = r[key];
      if (v !== undefined) out[key] = this.text(v);
    }
    // One of a few fixed words, not text from anywhere.
    if (r.rollback !== undefined) out.rollback = r.rollback;
    if (r.deviceLog && r.deviceLog.length > 0) out.deviceLog = r.deviceLog.map((l) => this.text(l));
    return out;
  }

  private cleanInfo(info: UiInfo): UiInfo {
    return JSON.parse(JSON.stringify(info), (_key, v: unknown) =>
      typeof v === "string" ? this.text(v) : v,
    ) as UiInfo;
  }

  /** Device text escaped as on the terminal, and no secret in it. */
  private text(s: string): string {
    let out = s;
    for (const secret of this.secrets) out = out.split(secret).join("[secret]");
    return printable(out);
  }
}
