/**
 * Everything a plan gets wrong is refused before the device or the cloud is
 * touched: exit 2 for a flag, 3 for the config file, with a hint that names
 * the field. The CLI here would talk to this test's local AWS IoT (it
 * attaches to it, as the control case shows), which counts every request:
 * for the refused plans it counts none, and the twin never made a key.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LocalIot, startLocalIot } from "../src/local-iot/service.js";
import { ensureTwinBuilt, startTwin, type Twin } from "../src/twin/index.js";
import { DEVICE_STATE, deviceState, runCli } from "./cli.test-helper.js";

let dir: string;
let iot: LocalIot;
let twin: Twin;

beforeAll(async () => {
  await ensureTwinBuilt();
  dir = await mkdtemp(join(tmpdir(), "validation-"));
  iot = await startLocalIot({ stateDir: join(dir, "iot") });
  twin = await startTwin({ stateDir: join(dir, "twin") });
}, 60_000);

afterAll(async () => {
  await twin?.stop();
  await iot?.stop();
  await rm(dir, { recursive: true, force: true });
});

const requests = () => Object.values(iot.stats()).reduce((n, s) => n + s.requests, 0);
const base = () => [
  "--port",
  twin.port,
  "--local",
  "--local-state-dir",
  join(dir, "iot"),
  "--ledger",
  "v.jsonl",
];

async function refused(args: string[], files: Record<string, string> = {}) {
  for (const [name, text] of Object.entries(files)) await writeFile(join(dir, name), text);
  const before = requests();
  const r = await runCli([...base(), ...args], { cwd: dir });
  expect(requests() - before, "requests the refused run made").toBe(0);
  expect(await deviceState(twin.port)).toBe(DEVICE_STATE.EMPTY);
  expect(r.stderr).not.toMatch(/make or find the key|register/);
  return r;
}

describe("late-validation cases, now refused up front", () => {
  it.each([
    ["a/#", '"#" is a wildcard'],
    ["a/+/b", '"+" is a wildcard'],
    ["sensors/*", '"*" is a wildcard'],
  ])("--topic %s: exit 2 naming --topic", async (topic, why) => {
    const r = await refused(["--topic", topic]);
    expect(r.status, r.stderr).toBe(2);
    expect(r.stderr).toContain(`provision: --topic ${JSON.stringify(topic)}: ${why}`);
    expect(r.stderr).toMatch(/what to do: fix --topic/);
  });

  it("an SSID over 32 bytes: exit 2, the hint talks about the SSID (not root CAs)", async () => {
    const r = await refused(["--wifi-ssid", "s".repeat(33)]);
    expect(r.status, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/--wifi-ssid .*: is 33 bytes; an SSID is 1-32 bytes/);
    expect(r.stderr).not.toMatch(/root CA/);
  });

  it("a Wi-Fi password over 64 bytes: exit 2 naming the password file, without printing the password", async () => {
    const secret = "p".repeat(65);
    const r = await refused(["--wifi-ssid", "net", "--wifi-password-file", "pw.txt"], { "pw.txt": secret });
    expect(r.status, r.stderr).toBe(2);
    expect(r.stderr).toMatch(
      /--wifi-password-file: is 65 bytes; WPA2 wants 8-63 characters or 64 hex digits/,
    );
    expect(r.stderr).not.toContain(secret);
  });

  it("the same mistakes in the config file: exit 3 naming the config key", async () => {
    const r = await refused(["--config", "bad.json"], { "bad.json": JSON.stringify({ topic: "x/#" }) });
    expect(r.status, r.stderr).toBe(3);
    expect(r.stderr).toMatch(/config file bad\.json: topic "x\/#": "#" is a wildcard/);
    expect(r.stderr).toMatch(/what to do: fix topic in bad\.json/);
  });

  it.each([
    [["--thing-name", "{{firmwareVersion}}"], /--thing-name .*firmwareVersion/],
    [
      ["--thing-name", "dev/{{deviceId}}"],
      /--thing-name "dev\/\{\{deviceId\}\}": thing name "dev\/0123456789ab" is not valid/,
    ],
    [["--subject", `CN=${"c".repeat(65)}`], /--subject CN= .*: must be 1-64 characters/],
    [
      ["--interval", "4000000"],
      /--interval 4000000: must be a whole number of ms, at least 1000 and at most 3600000/,
    ],
    [["--policy", "no spaces allowed"], /--policy "no spaces allowed": is not a valid policy name/],
    [
      ["--subject", "O=acme\u001b[2J"],
      /--subject O= "acme\\u001b\[2J": holds a control or invisible character/,
    ],
  ])("%j: exit 2 naming the flag", async (args, message) => {
    const r = await refused(args);
    expect(r.status, r.stderr).toBe(2);
    expect(r.stderr).toMatch(message);
  });

  it("a key store the device lacks (its HELLO lists them): exit 17 naming its stores, before any key is made", async () => {
    const r = await refused(["--key-store", "nvs"]);
    expect(r.status, r.stderr).toBe(17);
    expect(r.stderr).toMatch(/device [0-9a-f]{12} \(board twin\) keeps keys in file, not in nvs/);
    expect(r.stderr).toMatch(/give --key-store one of: file/);
    expect(r.stderr).not.toMatch(/store 1|has 5|ERR_UNSUPPORTED/);
  });

  it("control: the same command with a valid plan does reach this local AWS IoT and the device", async () => {
    const before = requests();
    const r = await runCli([...base(), "--topic", "{{thingName}}/ok"], { cwd: dir });
    expect(r.status, r.stderr).toBe(0);
    expect(requests() - before).toBeGreaterThan(0);
    expect(await deviceState(twin.port)).toBe(DEVICE_STATE.PROVISIONED);
  }, 60_000);
});
