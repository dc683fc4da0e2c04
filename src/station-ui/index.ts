/**
 * The station in a browser (`provision station --ui`, `provision
 * station-view`): loaded by the commands with import() only when asked for,
 * like every other optional part (docs/architecture.md, "Loading on demand").
 */
export { isLoopbackHost, parseBind, TOKEN_MIN_LENGTH, type UiBind, uiBind } from "./bind.js";
export { CONTENT_SECURITY_POLICY, UI_ASSETS_DIR } from "./http.js";
export { type LineView, parseStationUrl, type StationSource, startLineView } from "./line-server.js";
export { openStationUi, type StationUiContext, stationUiInfo } from "./open.js";
export type { UiFailure, UiInfo, UiResult, UiSlot, UiSnapshot, UiUpdate } from "./state.js";
export { type StationUi, startStationUi, UPDATE_INTERVAL_MS } from "./station-server.js";
