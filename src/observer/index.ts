export {
  createObserver,
  type FirstMessage,
  OBSERVER_CONNECT_TIMEOUT_MS_DEFAULT,
  Observer,
  type ObserverOptions,
} from "./observer.js";
export { AWS_WSS_PORT, type ObserverUrlOptions, presignedObserverUrl } from "./observer-url.js";
export {
  applyLifecycle,
  type LifecycleEvent,
  newPresenceState,
  PRESENCE_PREFIX,
  type PresenceState,
  parseLifecycle,
  REJECTING_DISCONNECT_REASONS,
} from "./presence.js";
