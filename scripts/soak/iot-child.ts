/**
 * The soak's local AWS IoT, in a process of its own so it can be killed for
 * real (SIGKILL = the service crashing mid-request). It takes the state
 * dir's lock as a service, so the CLI runs attach to it; each stdin line is
 * a fault config (JSON) to apply at once, answered with "ok".
 *
 *   node --import tsx scripts/soak/iot-child.ts STATE_DIR MQTT_PORT
 */
import { createInterface } from "node:readline";
import { describeForClients, startLocalIot } from "../../src/local-iot/service.js";

const [stateDir, mqttPort] = process.argv.slice(2);
if (!stateDir || !mqttPort) throw new Error("usage: iot-child.ts STATE_DIR MQTT_PORT");

const iot = await startLocalIot({
  stateDir,
  port: 0,
  mqttsPort: Number(mqttPort),
  wssPort: 0,
  detachDelayMs: 50,
});
// The same object `provision local-iot --json` prints.
process.stdout.write(`${JSON.stringify(describeForClients(iot))}\n`);
createInterface({ input: process.stdin }).on("line", (line) => {
  iot.setFaults(JSON.parse(line));
  process.stdout.write("ok\n");
});
const stop = () => void iot.stop().then(() => process.exit(0));
process.once("SIGTERM", stop);
process.once("SIGINT", stop);
