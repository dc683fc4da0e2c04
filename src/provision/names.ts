/** Names for the numbers the device sends, for messages and results. */
import {
  KEY_STORE_NAMES,
  KEY_TYPE_NAMES,
  type KeyStoreName,
  type KeyTypeName,
  DEVICE_STATE as STATE,
} from "../protocol/index.js";

export const keyTypeName = (code: number | undefined) =>
  (Object.entries(KEY_TYPE_NAMES).find(([, v]) => v === code)?.[0] as KeyTypeName | undefined) ??
  `type ${code}`;

export const keyStoreName = (code: number | undefined) =>
  (Object.entries(KEY_STORE_NAMES).find(([, v]) => v === code)?.[0] as KeyStoreName | undefined) ??
  `store ${code}`;

export function stateName(state: number | undefined): string {
  return Object.entries(STATE).find(([, v]) => v === state)?.[0] ?? `unknown (${state})`;
}
