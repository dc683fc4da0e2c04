/**
 * The factory station: many ports at once, one pipeline per port, sharing
 * ONE cloud target (so one registry and one set of per-operation rate
 * limiters: the quotas are per account, not per port), ONE observer
 * connection and ONE ledger. Ports come from a PortSource (explicit list or
 * hotplug watcher); a concurrency limit bounds the pipelines in flight.
 *
 * Resume: devices are recognised by their own id (HELLO), not by port. A
 * device the device itself says is PROVISIONED is verified, not registered
 * again (the pipeline does that); a device whose earlier run failed and was
 * rolled back simply runs again. Open runs a crashed station left in its
 * ledger are finished (rolled back) before the first device is taken.
 *
 * Interrupt: when `signal` aborts, no new device is taken; pipelines in
 * flight see the same signal, stop at their next safe point and roll back
 * (or finish, once the device has committed), and run() resolves with the
 * summary.
 */
import { hostname } from "node:os";
import pLimit from "p-limit";
import { asProvisionError, ProvisionError } from "../errors.js";
import type { FirstStep, FlashFlags } from "../flash/options.js";
import type { FlashImage } from "../flash/plan.js";
import { flashRecord } from "../flash/record.js";
import type { DeviceSummary } from "../ledger/index.js";
import { type CleanupReport, cleanupFromLedger, type Ledger, recordFlash } from "../ledger/index.js";
import type { Observer } from "../observer/index.js";
import { DEVICE_STATE } from "../protocol/index.js";
import {
  type ProvisionPlan,
  type ProvisionResult,
  provisionDevice,
  stateName,
  thingNameFor,
} from "../provision/pipeline.js";
import type { Progress } from "../provision/progress.js";
import type { CloudTarget } from "../provision/target.js";
import { arnParts } from "../registry/registry.js";
import type { DeviceSession, DeviceTimeouts } from "../session/index.js";
import { BAUD_DEFAULT } from "../transport/index.js";
import { type DeviceRecord, rollbackOutcomeOf, type StationSummary, summarize } from "./device-record.js";
import type { Manifest } from "./manifest.js";
import type { PortEvent, PortSource } from "./port-sources.js";
import { newSlot, type SlotView } from "./slot.js";
import { createSlotProgress } from "./slot-progress.js";
import { openStationSession, type WireCounters } from "./station-session.js";

export { type DeviceRecord, rollbackOutcomeOf, type StationSummary } from "./device-record.js";

export const CONCURRENCY_DEFAULT = 8;

/** For the views: the pipeline refuses a template that renders no valid name, and says why. */
function thingNameOf(plan: ProvisionPlan, hello: Parameters<typeof thingNameFor>[1]): string | undefined {
  try {
    return thingNameFor(plan, hello);
  } catch {
    return undefined;
  }
}

export interface StationOptions {
  target: CloudTarget;
  observer: Observer;
  ledger: Ledger;
  /** Where provisioned devices are listed; none: ledger only. */
  manifest?: Manifest;
  plan: ProvisionPlan;
  /** Pipelines in flight at once. */
  concurrency?: number;
  /** Written into the manifest; default the host name. */
  stationId?: string;
  /** Aborted on SIGINT. */
  signal?: AbortSignal;
  /** Rate each port is opened at (default 115200, the ROM's rate). */
  baud?: number;
  /** After HELLO, switch to this rate when the device lists it (SET_BAUD, with fallback). */
  switchBaud?: number;
  /** Pace host->device bytes like a UART (device twins on ptys; see paced-transport.ts). */
  paceHost?: boolean;
  /** Count bytes on the wire and frame payload bytes per device (benchmark). */
  measureWire?: boolean;
  /** `--device-timeout`: waits raised for slow devices. */
  deviceTimeouts?: DeviceTimeouts;
  /** `--flash DIR`: each board is flashed in its slot first (the image read and checked at start). */
  flash?: { flags: FlashFlags; image: FlashImage };
  /** Test seam / other links: how a port becomes a session. */
  openSession?: (port: string) => Promise<{ session: DeviceSession; wire?: WireCounters }>;
  /** Skip the start-up cleanup of open runs (default: clean them). */
  skipResumeCleanup?: boolean;
  /** Called on every change of a slot (the live view). */
  onSlotChange?: (slot: SlotView) => void;
  /** Called once per device taken (finished, failed or skipped): the --json line. */
  onDevice?: (record: DeviceRecord) => void;
  /** Info lines not tied to a slot (resume cleanup, ignored ports). */
  onInfo?: (text: string) => void;
  /** Test seam: runs after each successful pipeline step of a slot. */
  afterStep?: (slot: SlotView, step: string) => Promise<void> | void;
}

export class Station {
  readonly slots = new Map<string, SlotView>();
  readonly records: DeviceRecord[] = [];
  readonly stationId: string;
  /** The AWS account, from the first certificate's ARN. */
  accountId: string | undefined;
  private readonly busy = new Set<string>();
  /** Busy slots whose device was unplugged, and the device plugged in since (taken when the slot frees). */
  private readonly replugged = new Map<string, Extract<PortEvent, { kind: "arrive" }> | undefined>();
  private readonly options: StationOptions;
  private firstTakenAt: number | undefined;
  private lastDoneAt: number | undefined;
  /** Ledger state when the station started: who finished in an earlier session. */
  private knownDevices: Record<string, DeviceSummary> = {};

  constructor(options: StationOptions) {
    const concurrency = options.concurrency ?? CONCURRENCY_DEFAULT;
    if (!Number.isInteger(concurrency) || concurrency < 1)
      throw new ProvisionError("USAGE", `--concurrency ${concurrency}: must be a whole number >= 1`);
    this.options = { ...options, concurrency };
    this.stationId = options.stationId ?? hostname();
  }

  /** Devices finished (ok) per minute so far. */
  rate(): number {
    const ok = this.records.filter((r) => r.ok).length;
    if (this.firstTakenAt === undefined || ok === 0) return 0;
    const ms = (this.lastDoneAt ?? Date.now()) - this.firstTakenAt;
    return ms > 0 ? (ok * 60_000) / ms : 0;
  }

  /** Finishes what a crashed station left open in this ledger, and learns which devices are done. */
  private async resume(): Promise<CleanupReport | undefined> {
    const ledger = this.options.ledger;
    const file = ledger.file;
    let summary = await ledger.summary();
    let report: CleanupReport | undefined;
    if (summary.openRuns.length > 0 && !this.options.skipResumeCleanup) {
      this.options.onInfo?.(
        `ledger ${file} has ${summary.openRuns.length} open run(s) from an earlier session: rolling them back first`,
      );
      report = await cleanupFromLedger(this.options.target.registry, ledger, { signal: this.options.signal });
      for (const f of report.failed)
        this.options.onInfo?.(
          `run ${f.run} (${f.device ?? f.thing ?? "?"}) could not be cleaned: ${JSON.stringify(f.error)}`,
        );
      summary = await ledger.summary();
    }
    this.knownDevices = summary.devices;
    return report;
  }

  async run(source: PortSource): Promise<StationSummary> {
    const startedAt = new Date();
    const signal = this.options.signal ?? new AbortController().signal;
    const resumeCleanup = await this.resume();
    const limit = pLimit(this.options.concurrency ?? CONCURRENCY_DEFAULT);
    const jobs: Promise<void>[] = [];
    const sourceStop = new AbortController();
    const onAbort = () => sourceStop.abort();
    signal.addEventListener("abort", onAbort, { once: true });
    try {
      if (!signal.aborted) {
        for await (const event of source(sourceStop.signal)) {
          if (signal.aborted) break;
          this.accept(event, limit, jobs);
        }
      }
      await Promise.all(jobs);
    } finally {
      signal.removeEventListener("abort", onAbort);
    }
    return this.summary(startedAt, signal.aborted, resumeCleanup);
  }

  private slotFor(event: PortEvent): SlotView {
    let slot = this.slots.get(event.slot);
    if (!slot) {
      slot = newSlot(event.slot, event.port, event.kind === "arrive" ? event.usbLocation : undefined);
      this.slots.set(event.slot, slot);
    }
    return slot;
  }

  private accept(event: PortEvent, limit: ReturnType<typeof pLimit>, jobs: Promise<void>[]): void {
    const slot = this.slotFor(event);
    if (event.kind === "depart") {
      // Unplugged: the slot is free for the next device; a pipeline still running there fails on its own.
      if (!this.busy.has(slot.slot)) {
        slot.phase = "waiting";
        slot.note = `unplugged ${event.port}`;
        this.changed(slot);
      } else {
        this.replugged.set(slot.slot, undefined);
      }
      return;
    }
    if (this.busy.has(slot.slot)) {
      // A device plugged in while the previous one's pipeline still runs gets no second arrival: keep it.
      if (this.replugged.has(slot.slot)) this.replugged.set(slot.slot, event);
      return;
    }
    this.busy.add(slot.slot);
    jobs.push(this.take(slot, event, limit));
  }

  /** Runs the slot's device, then any device plugged into the slot meanwhile. */
  private async take(
    slot: SlotView,
    first: Extract<PortEvent, { kind: "arrive" }>,
    limit: ReturnType<typeof pLimit>,
  ): Promise<void> {
    let event: Extract<PortEvent, { kind: "arrive" }> | undefined = first;
    try {
      while (event !== undefined) {
        slot.port = event.port;
        if (event.usbLocation !== undefined) slot.usbLocation = event.usbLocation;
        slot.phase = "waiting";
        slot.note = "queued";
        this.changed(slot);
        await limit(() => this.runDevice(slot));
        event = this.replugged.get(slot.slot);
        this.replugged.delete(slot.slot);
      }
    } finally {
      this.busy.delete(slot.slot);
    }
  }

  private changed(slot: SlotView): void {
    this.options.onSlotChange?.(slot);
  }

  private finish(slot: SlotView, record: DeviceRecord, deviceLog: string[] = []): void {
    this.records.push(record);
    const started = record.outcome !== "not-started";
    if (started) this.lastDoneAt = Date.now();
    slot.last = {
      ok: record.ok,
      outcome: record.outcome,
      totalMs: record.totalMs,
      ...(record.deviceId ? { deviceId: record.deviceId } : {}),
      ...(record.thingName ? { thingName: record.thingName } : {}),
      ...(record.certificateId ? { certificateId: record.certificateId } : {}),
      ...(record.error ? { message: record.error.message } : {}),
      ...(record.error?.hint ? { hint: record.error.hint } : {}),
      ...(deviceLog.length > 0 ? { deviceLog } : {}),
      ...(record.rollback ? { rollback: record.rollback } : {}),
    };
    if (record.ok) slot.okCount++;
    else if (started) slot.failedCount++;
    slot.phase = record.ok ? "done" : started ? "failed" : "waiting";
    slot.note = undefined;
    this.changed(slot);
    this.options.onDevice?.(record);
  }

  private async runDevice(slot: SlotView): Promise<void> {
    const o = this.options;
    const startedAt = new Date();
    const startedIso = startedAt.toISOString();
    const port = slot.port;
    if (o.signal?.aborted) {
      this.finish(slot, {
        slot: slot.slot,
        port,
        ok: false,
        outcome: "not-started",
        error: { code: "INTERRUPTED", message: "not started: the station was interrupted" },
        startedAt: startedIso,
        totalMs: 0,
        timings: {},
      });
      return;
    }
    this.firstTakenAt ??= startedAt.getTime();
    slot.startedAt = startedAt.getTime();
    slot.deviceId = undefined;
    slot.thingName = undefined;
    slot.note = undefined;
    slot.progress = undefined;
    let failedStep: string | undefined;
    const progress = createSlotProgress({
      onPhase: (phase) => {
        slot.phase = phase;
        this.changed(slot);
      },
      onInfo: (text) => {
        slot.note = text;
        this.changed(slot);
      },
      onStepFailed: (step) => {
        failedStep = step;
      },
      afterStep: o.afterStep ? (step) => o.afterStep?.(slot, step) : undefined,
    });
    const record: DeviceRecord = {
      slot: slot.slot,
      port,
      ok: false,
      outcome: "",
      startedAt: startedIso,
      totalMs: 0,
      timings: {},
      baud: o.baud ?? BAUD_DEFAULT,
    };
    let link: { session: DeviceSession; wire?: WireCounters } | undefined;
    let deviceLog: string[] = [];
    try {
      const first = o.flash ? await this.flashSlot(slot, port, progress, o.flash) : undefined;
      if (first) record.flash = flashRecord(first);
      const flashed = first !== undefined && "flashed" in first;
      slot.phase = "hello";
      this.changed(slot);
      link = await (o.openSession
        ? o.openSession(port)
        : openStationSession(port, {
            baud: o.baud,
            board: o.plan.boardId,
            // the flash step left the chip just reset into the app (and, flashed, booting)
            ...(first ? { reset: false } : {}),
            paceHost: o.paceHost,
            measureWire: o.measureWire,
            deviceTimeouts: o.deviceTimeouts,
          }));
      const session = link.session;
      const hello = flashed
        ? await (await import("../flash/options.js")).meetAfterFlash(session, progress)
        : await progress.step("hello", `meet the device on ${port}`, () => session.hello());
      record.deviceId = hello.deviceId;
      record.boardId = hello.boardId;
      record.firmwareVersion = hello.firmwareVersion;
      slot.deviceId = hello.deviceId;
      slot.thingName = thingNameOf(o.plan, hello);
      this.changed(slot);
      // The audit trail has the flash before anything is registered for the board.
      if (record.flash) await recordFlash(o.ledger, hello.deviceId, { ...record.flash });
      const switchTo = o.switchBaud ?? o.plan.switchBaud;
      if (switchTo !== undefined && hello.baudRates.includes(switchTo)) {
        const switched = await progress.step("baud", `switch to ${switchTo} baud`, () =>
          session.setBaud(switchTo),
        );
        if (switched.fellBack)
          slot.note = `baud switch to ${switchTo} failed, staying at ${switched.baudRate}`;
        record.baud = switched.baudRate;
      }
      const known = this.knownDevices[hello.deviceId];
      if (known?.finished && !o.plan.force) {
        // The ledger says this device was finished; it must not get a second certificate by accident.
        const status = await session.status();
        if (status.state !== DEVICE_STATE.PROVISIONED && status.state !== DEVICE_STATE.LOCKED) {
          throw new ProvisionError(
            "DEVICE_MISMATCH",
            `the ledger says device ${hello.deviceId} was provisioned (certificate ${known.certificateId ?? "?"}), but it is in state ${stateName(status.state)}`,
            {
              where: port,
              hint: "the device was erased: provision it again with --force (its old certificate is retired once the new one publishes), or set it aside",
            },
          );
        }
      }
      // The station met the device and switched its baud rate above (before its own ledger check): the
      // greeting tells the pipeline not to repeat either.
      const result = await provisionDevice(
        { session, target: o.target, ledger: o.ledger, observer: o.observer, progress, signal: o.signal },
        o.plan,
        { hello },
      );
      await this.succeeded(slot, record, result, known);
    } catch (e) {
      const err = asProvisionError(e);
      record.ok = false;
      record.outcome = err.code;
      record.error = { code: err.code, message: err.message, ...(err.hint ? { hint: err.hint } : {}) };
      if (failedStep) record.failedStep = failedStep;
      deviceLog = err.deviceLog;
      try {
        const state = await o.ledger.summary();
        record.rollback = rollbackOutcomeOf(state.runs, record.deviceId, startedIso);
      } catch {
        record.rollback = "rollback-open";
      }
    } finally {
      await link?.session.close().catch(() => undefined);
    }
    record.totalMs = Date.now() - startedAt.getTime();
    for (const t of progress.timings) record.timings[t.step] = (record.timings[t.step] ?? 0) + t.ms;
    if (link?.wire) record.wire = { ...link.wire };
    this.finish(slot, record, deviceLog);
  }

  /** Flashes the board in `slot`, its progress as the slot's note ("app 45 %"). */
  private async flashSlot(
    slot: SlotView,
    port: string,
    progress: Progress,
    flash: NonNullable<StationOptions["flash"]>,
  ): Promise<FirstStep> {
    let shown = -1;
    // esptool-js loads with the first board to flash.
    const { flashUnlessRunning } = await import("../flash/options.js");
    return flashUnlessRunning(flash.flags, flash.image, port, progress, {
      signal: this.options.signal,
      onRegionProgress: (region, sent, total) => {
        const pct = total > 0 ? Math.floor((sent * 100) / total / 10) * 10 : 0;
        if (pct === shown) return;
        shown = pct;
        slot.note = `${region.role} ${pct} %`;
        slot.progress = total > 0 ? sent / total : 0;
        this.changed(slot);
      },
    });
  }

  private async succeeded(
    slot: SlotView,
    record: DeviceRecord,
    result: ProvisionResult,
    known: DeviceSummary | undefined,
  ): Promise<void> {
    record.ok = true;
    record.outcome = result.mode;
    record.thingName = result.thingName;
    if (result.firstMessage) record.firstPublishMs = result.firstMessage.firstPublishMs;
    if (result.committed) record.committedGeneration = result.committed.generation;
    if (result.certificateArn) this.accountId ??= arnParts(result.certificateArn).accountId;
    const certificateId = result.certificateId ?? known?.certificateId;
    if (certificateId) record.certificateId = certificateId;
    if (this.options.manifest) {
      await this.options.manifest.add({
        deviceId: result.deviceId,
        thingName: result.thingName,
        certificateId: certificateId ?? "",
        board: result.boardId,
        firmware: result.firmwareVersion,
        stationId: this.stationId,
        time: new Date().toISOString(),
        result: result.mode,
        port: result.port,
        slot: slot.slot,
        ...(record.flash
          ? {
              chip: record.flash.chip ?? "",
              chipRevision: record.flash.revision ?? "",
              mac: record.flash.mac ?? "",
              flashId: record.flash.flashId ?? "",
              appElfSha256: record.flash.appElfSha256 ?? "",
              flash: record.flash.outcome,
            }
          : {}),
      });
    }
  }

  private summary(startedAt: Date, interrupted: boolean, resumeCleanup?: CleanupReport): StationSummary {
    return summarize(this.records, {
      stationId: this.stationId,
      startedAt,
      interrupted,
      rate: this.rate(),
      resumeCleanup,
    });
  }
}
