/**
 * The soak's handle on its local AWS IoT process (iot-child.ts): start,
 * change faults at runtime, kill it (a crash) and start it again on the
 * same state dir and MQTT port (devices keep the port they were given).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createInterface, type Interface } from "node:readline";
import { fileURLToPath } from "node:url";
import type { FaultConfig } from "../../src/local-iot/faults.js";
import type { LocalIotInfo } from "../../test/local-iot-process.test-helper.js";

const CHILD = fileURLToPath(new URL("./iot-child.ts", import.meta.url));

export class SoakService {
  info!: LocalIotInfo;
  private child: ChildProcess | undefined;
  private lines: Interface | undefined;
  restarts = 0;

  constructor(
    readonly stateDir: string,
    readonly mqttPort: number,
  ) {}

  async start(): Promise<void> {
    const child = spawn(process.execPath, ["--import", "tsx", CHILD, this.stateDir, String(this.mqttPort)], {
      stdio: ["pipe", "pipe", "inherit"],
      env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true" },
    });
    this.child = child;
    this.lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
    const first = await new Promise<string>((res, rej) => {
      this.lines?.once("line", res);
      child.once("exit", (code) =>
        rej(new Error(`the soak's local AWS IoT exited (${code}) while starting`)),
      );
    });
    this.info = JSON.parse(first) as LocalIotInfo;
  }

  /** Replaces the fault config of the running service (and waits for it to apply). */
  async setFaults(config: FaultConfig): Promise<void> {
    const ack = new Promise((res) => this.lines?.once("line", res));
    this.child?.stdin?.write(`${JSON.stringify(config)}\n`);
    await ack;
  }

  private async signal(signal: NodeJS.Signals): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const gone = new Promise((res) => child.once("exit", res));
    child.kill(signal);
    await gone;
  }

  /** SIGKILL: the service dies mid-whatever; its lock stays behind, stale. */
  crash(): Promise<void> {
    return this.signal("SIGKILL");
  }

  async restart(): Promise<void> {
    await this.crash();
    await this.start();
    this.restarts++;
  }

  stop(): Promise<void> {
    return this.signal("SIGTERM");
  }
}
