/** The device twin: the C device core on a Linux pseudo-terminal. */
export {
  ensureTwinBuilt,
  missingPackageHint,
  startTwin,
  startTwins,
  TWIN_BINARY,
  TWIN_DIR,
  type Twin,
  type TwinOptions,
} from "./launcher.js";
