/**
 * openDevice on a real pty (the C twin): a failure after the port is open
 * (unknown --board, failed reset) must release the port, or the next open in
 * the same process (a station, a test, a library caller) finds it busy.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openDevice } from "../src/commands/device-link.js";
import { ensureTwinBuilt, startTwin, type Twin } from "../src/twin/index.js";

let dir: string;
let twin: Twin;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "provision-device-link-"));
  await ensureTwinBuilt();
  twin = await startTwin({ stateDir: join(dir, "twin") });
}, 120_000);

afterAll(async () => {
  await twin?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe("openDevice", () => {
  it("an unknown --board fails UNKNOWN_BOARD and leaves the port free for the next open", async () => {
    await expect(openDevice({ port: twin.port, board: "no-such-board" })).rejects.toMatchObject({
      code: "UNKNOWN_BOARD",
    });
    const session = await openDevice({ port: twin.port });
    try {
      expect((await session.hello()).deviceId).toBe(twin.deviceId);
    } finally {
      await session.close();
    }
  });
});
