/**
 * SET_BAUD with the fallback of docs/protocol.md section 5.3: switch after
 * the answer, PING at the new rate, and if that fails go back to the old rate
 * (the device does the same after BAUD_CONFIRM_MS) and confirm with a PING
 * there. Only the order of steps lives here; the session does the I/O.
 */
import { ProvisionError } from "../errors.js";
import { BAUD_CONFIRM_MS } from "../protocol/index.js";
import type { Transport } from "../transport/index.js";
import type { SetBaudResult } from "./session-types.js";

export interface BaudSwitchLink {
  transport: Pick<Transport, "baudRate" | "setBaudRate">;
  /** SET_BAUD itself: resolves once the device answered at the old rate. */
  askDevice(baudRate: number): Promise<unknown>;
  ping(): Promise<unknown>;
  /** How long a PING may take with all its attempts. */
  pingBudgetMs: number;
}

export async function switchBaudRate(link: BaudSwitchLink, baudRate: number): Promise<SetBaudResult> {
  const oldRate = link.transport.baudRate;
  if (baudRate === oldRate) return { baudRate, fellBack: false };
  try {
    await link.askDevice(baudRate);
  } catch (e) {
    if (e instanceof ProvisionError && e.code === "DEVICE_REFUSED") throw e;
    // No (readable) answer: the device may or may not have switched; if it did it comes back by itself.
    await delay(BAUD_CONFIRM_MS + 100);
    await link.ping();
    return { baudRate: oldRate, fellBack: true };
  }
  await link.transport.setBaudRate(baudRate);
  try {
    await link.ping();
    return { baudRate, fellBack: false };
  } catch (e) {
    if (!(e instanceof ProvisionError) || e.code === "PORT_IO") throw e;
  }
  await link.transport.setBaudRate(oldRate);
  await delay(Math.max(0, BAUD_CONFIRM_MS - link.pingBudgetMs) + 100);
  await link.ping();
  return { baudRate: oldRate, fellBack: true };
}

function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
