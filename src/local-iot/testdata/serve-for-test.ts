/**
 * Runs the local AWS IoT in a child process for tests that kill it (SIGKILL)
 * to check that acknowledged changes survive. Prints one JSON line when ready.
 * Usage: node --import tsx serve-for-test.ts STATE_DIR
 */
import { startLocalIot } from "../service.js";

const stateDir = process.argv[2];
if (!stateDir) throw new Error("usage: serve-for-test.ts STATE_DIR");
const iot = await startLocalIot({ stateDir, withoutBroker: true });
process.stdout.write(
  `${JSON.stringify({ url: iot.controlPlaneUrl, credentials: iot.credentials, region: iot.region })}\n`,
);
setInterval(() => {}, 1 << 30);
