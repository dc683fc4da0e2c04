export { LiveView, type LiveViewOptions, PHASE_LABEL, renderChange, renderRows } from "./live-view.js";
export { csvLine, MANIFEST_COLUMNS, Manifest, type ManifestRow, manifestFiles } from "./manifest.js";
export { PacedTransport, UART_BITS_PER_BYTE } from "./paced-transport.js";
export {
  explicitPorts,
  type FixtureMap,
  loadFixture,
  type PortEvent,
  type PortSource,
  parseFixture,
  slotForLocation,
  swappedPorts,
  WATCH_INTERVAL_MS_DEFAULT,
  type WatchOptions,
  watchPorts,
} from "./port-sources.js";
export { peakPerWindow, type RateSampler, sampleRequestRates } from "./request-rates.js";
export {
  newSlot,
  phaseOfStep,
  type RollbackOutcome,
  type SlotPhase,
  type SlotResult,
  type SlotView,
} from "./slot.js";
export { createSlotProgress } from "./slot-progress.js";
export {
  CONCURRENCY_DEFAULT,
  type DeviceRecord,
  rollbackOutcomeOf,
  Station,
  type StationOptions,
  type StationSummary,
} from "./station.js";
export { openStationSession, type StationSessionOptions, type WireCounters } from "./station-session.js";
