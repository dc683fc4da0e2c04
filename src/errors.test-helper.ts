/** Tests that expect a ProvisionError get it back to look at (and fail on anything else). */
import { isProvisionError, type ProvisionError } from "./errors.js";

/** The ProvisionError the promise rejects with; fails if it resolves or rejects with something else. */
export async function rejection(p: Promise<unknown>): Promise<ProvisionError> {
  try {
    await p;
  } catch (e) {
    if (isProvisionError(e)) return e;
    throw e;
  }
  throw new Error("expected a ProvisionError");
}

/** The ProvisionError the function throws; fails if it returns or throws something else. */
export function thrown(fn: () => unknown): ProvisionError {
  try {
    fn();
  } catch (e) {
    if (isProvisionError(e)) return e;
    throw e;
  }
  throw new Error("expected a ProvisionError");
}
