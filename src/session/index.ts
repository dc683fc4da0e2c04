/** The host side of the device protocol over a Transport. */

export { helloAfterBoot } from "./after-boot.js";
export { BOOT_TIMEOUT_DEFAULT_MS } from "./boot-timeout.js";
export {
  CHUNK_RESTARTS_MAX,
  DEVICE_LOG_LINES,
  DeviceSession,
  type DeviceSessionOptions,
  type DeviceTimeouts,
  ERROR_LOG_LINES,
  isUnreadable,
  type SessionEvents,
  type SessionStats,
  type SetBaudResult,
  type TimingKey,
  type TraceEntry,
  type WireRecord,
} from "./device-session.js";
