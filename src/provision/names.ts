/** Names for the numbers the device sends, for messages and results. */
import { KEY_TYPE_NAMES, type KeyTypeName, DEVICE_STATE as STATE } from "../protocol/index.js";

export const keyTypeName = (code: number | undefined) =>
  (Object.entries(KEY_TYPE_NAMES).find(([, v]) => v === code)?.[0] as KeyTypeName | undefined) ??
  `type ${code}`;

export function stateName(state: number | undefined): string {
  return Object.entries(STATE).find(([, v]) => v === state)?.[0] ?? `unknown (${state})`;
}
