/** Devices on Linux pseudo-terminals: the twin (the C core) and the idf-linux device (the ESP-IDF port). */
export {
  DEVICE_FIRMWARES,
  type DeviceFirmware,
  ensureTwinBuilt,
  missingPackageHint,
  startTwin,
  startTwins,
  TWIN_BINARY,
  TWIN_DIR,
  type Twin,
  type TwinOptions,
} from "./launcher.js";
