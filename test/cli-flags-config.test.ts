/**
 * How the CLI reads its flags, environment and config file: bad values are
 * usage errors naming the flag, the config file's ledger and port are used,
 * the station and verify get the flags the docs list, unusable state
 * directories are configuration errors. The real binary spawned; its exit
 * status, stderr and files compared.
 */

import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEVICE_STATE } from "../src/protocol/index.js";
import { ensureTwinBuilt, startTwin } from "../src/twin/index.js";
import { deviceState, fixedMqttPort, localArgs, runCli } from "./cli.test-helper.js";

let dir: string;

const cli = (args: string[], env: NodeJS.ProcessEnv = {}) => runCli(args, { cwd: dir, env });

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "provision-review-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("bad flag values are usage errors (exit 2), not internal errors (exit 1)", () => {
  it("--baud abc names the flag and exits 2 without a stack trace", async () => {
    const r = await cli(["--port", "/dev/null", "--baud", "abc"]);
    expect(r.status, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/--baud/);
    expect(r.stderr).not.toMatch(/TypeError|at openSerialTransport/);
  });

  it("a non-numeric ESPBAUD names the variable and exits 2", async () => {
    const r = await cli(["--port", "/dev/null"], { ESPBAUD: "fast" });
    expect(r.status, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/ESPBAUD/);
  });

  it("--timeout abc is refused before anything runs (it used to time out at once after registering)", async () => {
    const r = await cli(["--port", "/dev/nonexistent-port", "--timeout", "abc"]);
    expect(r.status, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/--timeout/);
  });

  it("station --headroom abc and --headroom 80 name the flag and exit 2 before any port is opened", async () => {
    for (const value of ["abc", "80"]) {
      const r = await cli(["station", "/dev/nonexistent-port", "--headroom", value]);
      expect(r.status, r.stderr).toBe(2);
      expect(r.stderr).toMatch(/--headroom/);
      expect(r.stderr).not.toMatch(/nonexistent-port/);
    }
  });

  it("--device-timeout and --until name what they accept and exit 2", async () => {
    for (const bad of ["KEYGEN=1000", "GENERATE_KEY=abc", "GENERATE_KEY=50", "BOOT"]) {
      const r = await cli(["--port", "/dev/null", "--device-timeout", bad]);
      expect(r.status, `${bad}: ${r.stderr}`).toBe(2);
      expect(r.stderr).toMatch(/--device-timeout/);
    }
    const r = await cli(["--port", "/dev/null", "--device-timeout", "KEYGEN=1000"]);
    expect(r.stderr).toMatch(/BOOT, GENERATE_KEY, GET_CSR/);
    const until = await cli(["--port", "/dev/null", "--until", "connected"]);
    expect(until.status).toBe(2);
    expect(until.stderr).toMatch(/published, committed/);
  });

  it("an unknown flag exits 2 as the README's exit-code table says", async () => {
    const r = await cli(["--no-such-flag"]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/unknown option/);
  });

  it("--help still exits 0", async () => {
    const r = await cli(["--help"]);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/Usage: provision/);
  });
});

describe("cleanup", () => {
  it("a ledger that does not exist is a configuration error, not 'nothing was open'", async () => {
    const r = await cli([
      "cleanup",
      "--ledger",
      "no-such-ledger.jsonl",
      ...localArgs(join(dir, "iot-cleanup")),
    ]);
    expect(r.status, r.stderr).toBe(3);
    expect(r.stderr).toMatch(/no-such-ledger\.jsonl does not exist/);
    expect(r.stderr).not.toMatch(/nothing was open/);
    expect(existsSync(join(dir, "no-such-ledger.jsonl"))).toBe(false);
  });
});

describe("the config file's ledger", () => {
  beforeAll(async () => {
    await ensureTwinBuilt();
  }, 120_000);

  it("is used when --ledger is not given (docs/configuration.md)", async () => {
    const twin = await startTwin({ stateDir: join(dir, "twin-ledger") });
    writeFileSync(join(dir, "provision.config.json"), JSON.stringify({ ledger: "ledgers/line-3.jsonl" }));
    try {
      const r = await cli(["--port", twin.port, ...localArgs(join(dir, "iot-ledger")), "--json"]);
      expect(r.status, r.stderr).toBe(0);
      const result = JSON.parse(r.stdout);
      expect(readFileSync(join(dir, "ledgers/line-3.jsonl"), "utf8")).toContain(result.certificateId);
      expect(existsSync(join(dir, "provision-ledger.jsonl"))).toBe(false);
    } finally {
      rmSync(join(dir, "provision.config.json"), { force: true });
      await twin.stop();
    }
  }, 60_000);
});

describe("station flags docs/station.md lists", () => {
  beforeAll(async () => {
    await ensureTwinBuilt();
  }, 120_000);

  it("--baud, --force and --lock reach the station (they were unknown options)", async () => {
    const twin = await startTwin({ stateDir: join(dir, "twin-station") });
    const local = localArgs(join(dir, "iot-station"));
    try {
      const first = await cli(["station", twin.port, ...local, "--baud", "57600", "--json"]);
      expect(first.status, first.stderr).toBe(0);
      const one = JSON.parse(first.stdout.trim());
      expect(one.outcome).toBe("provisioned");
      expect(one.baud).toBe(57600);

      const second = await cli(["station", twin.port, ...local, "--force", "--lock", "--json"]);
      expect(second.status, second.stderr).toBe(0);
      expect(JSON.parse(second.stdout.trim()).outcome).toBe("rotated");

      expect(await deviceState(twin.port)).toBe(DEVICE_STATE.LOCKED);
    } finally {
      await twin.stop();
    }
  }, 90_000);
});

describe("verify reads provision.config.json like provision does", () => {
  beforeAll(async () => {
    await ensureTwinBuilt();
  }, 120_000);

  it("finds the port (and timeout) in the config file", async () => {
    const twin = await startTwin({ stateDir: join(dir, "twin-verify") });
    // The device keeps the MQTT port it was given, so that one is fixed across the two processes.
    const mqttPort = fixedMqttPort();
    const local = localArgs(join(dir, "iot-verify"), mqttPort);
    writeFileSync(join(dir, "provision.config.json"), JSON.stringify({ port: twin.port, timeoutMs: 20_000 }));
    try {
      const first = await cli([...local, "--ledger", "verify-ledger.jsonl", "--json"]);
      expect(first.status, first.stderr).toBe(0);
      const qa = await cli(["verify", ...local, "--json"]);
      expect(qa.status, qa.stderr).toBe(0);
      expect(JSON.parse(qa.stdout).mode).toBe("verified");
    } finally {
      rmSync(join(dir, "provision.config.json"), { force: true });
      await twin.stop();
    }
  }, 90_000);
});

describe("csr", () => {
  beforeAll(async () => {
    await ensureTwinBuilt();
  }, 120_000);

  it("a malformed --subject is refused before the device makes a key", async () => {
    const twin = await startTwin({ stateDir: join(dir, "twin-csr") });
    try {
      const r = await cli(["csr", "--port", twin.port, "--subject", "CN"]);
      expect(r.status, r.stderr).toBe(2);
      expect(r.stderr).toMatch(/--subject CN: expected FIELD=value/);
      expect(await deviceState(twin.port)).toBe(DEVICE_STATE.EMPTY);
    } finally {
      await twin.stop();
    }
  }, 60_000);
});

describe("provision with an invalid --thing-name template", () => {
  beforeAll(async () => {
    await ensureTwinBuilt();
  }, 120_000);

  it("is refused before the device makes a key", async () => {
    const twin = await startTwin({ stateDir: join(dir, "twin-thing-name") });
    try {
      const r = await cli([
        "--port",
        twin.port,
        ...localArgs(join(dir, "iot-thing-name")),
        "--ledger",
        "thing-name-ledger.jsonl",
        "--thing-name",
        "sensor {{deviceId}}",
      ]);
      expect(r.status, r.stderr).toBe(2);
      expect(r.stderr).toMatch(/thing name "sensor [0-9a-f]{12}" is not valid/);
      expect(await deviceState(twin.port)).toBe(DEVICE_STATE.EMPTY);
    } finally {
      await twin.stop();
    }
  }, 60_000);
});

describe("install", () => {
  it("refuses --interval below 1000 ms (as provision does) before reading files or touching the port", async () => {
    const r = await cli([
      "install",
      "--port",
      "/dev/nonexistent-port",
      "--cert",
      "missing.pem",
      "--endpoint",
      "example.invalid",
      "--thing-name",
      "t1",
      "--interval",
      "5",
    ]);
    expect(r.status, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/--interval 5: must be a whole number of ms, at least 1000/);
  });
});

describe("--local-state-dir that cannot be used", () => {
  it("is a configuration error (exit 3) naming the path, not an internal one", async () => {
    writeFileSync(join(dir, "a-file"), "x");
    writeFileSync(join(dir, "some-ledger.jsonl"), "");
    const r = await cli([
      "cleanup",
      "--ledger",
      "some-ledger.jsonl",
      ...localArgs(join(dir, "a-file", "iot")),
    ]);
    expect(r.status, r.stderr).toBe(3);
    expect(r.stderr).toMatch(/cannot use its state directory/);
    expect(r.stderr).toContain(join(dir, "a-file"));
    expect(r.stderr).toMatch(/--local-state-dir/);
  });
});

describe("local-iot --state-dir that cannot be used", () => {
  it("is a configuration error (exit 3) naming the path", async () => {
    writeFileSync(join(dir, "b-file"), "x");
    const r = await cli(["local-iot", "--state-dir", join(dir, "b-file", "iot")]);
    expect(r.status, r.stderr).toBe(3);
    expect(r.stderr).toMatch(/cannot use the state directory/);
    expect(r.stderr).toContain(join(dir, "b-file"));
  });
});
