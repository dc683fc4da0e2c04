export { type CleanupOptions, type CleanupReport, cleanupFromLedger } from "./cleanup.js";
export {
  cleanupThings,
  type ThingCleanup,
  type ThingsCleanupOptions,
  type ThingsCleanupReport,
} from "./cleanup-things.js";
export { Ledger, type LedgerContents, readLedger, readLedgerContents } from "./ledger.js";
export { type DeviceHolds, type PriorSettlement, settleDeviceHolds, settlePriorRuns } from "./prior-runs.js";
export {
  LEDGER_VERSION,
  type LedgerEntry,
  type LedgerEvent,
  type LedgerPhase,
  type LedgerRecord,
  newRunId,
} from "./records.js";
export {
  type Adoption,
  certificatePemSha256,
  ledgerState,
  type RegisterRequest,
  type Registration,
  type RunMarker,
  recordCommitted,
  recordFirstPublish,
  recordFlash,
  registerWithRollback,
} from "./register.js";
export {
  planRetirement,
  type Retirement,
  type RetirementPlan,
  type RetirementRequest,
  retirePlanned,
} from "./retirement.js";
export {
  findCertificatesForKey,
  rollbackRegistration,
  rollbackRun,
  UNCLEAR_SEARCH_MAX_CERTIFICATES,
  UNCLEAR_SEARCH_SLACK_MS,
} from "./rollback.js";
export {
  type DeviceSummary,
  HOLDING,
  type LedgerSummary,
  type RunState,
  type RunStatus,
  reduceRun,
  summarize,
} from "./state.js";
export {
  type RetireConsent,
  readThing,
  sortCertificates,
  type ThingCertificate,
  type ThingView,
} from "./thing-certificates.js";
export type { TornLine, TornTail } from "./torn.js";
