import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import type { ProvisionError } from "../errors.js";
import { buildPlan, loadConfig, parseSubject } from "./plan.js";

const dir = mkdtempSync(join(tmpdir(), "provision-plan-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(() => {
  delete process.env.PROVISION_WIFI_PASSWORD;
});

function write(name: string, content: string): string {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}

function thrown(f: () => unknown): ProvisionError {
  try {
    f();
  } catch (e) {
    return e as ProvisionError;
  }
  throw new Error("did not throw");
}

async function rejected(p: Promise<unknown>): Promise<ProvisionError> {
  try {
    await p;
  } catch (e) {
    return e as ProvisionError;
  }
  throw new Error("did not reject");
}

describe("config file", () => {
  it("a missing default config file is no error; a missing named one is", async () => {
    // The default name, looked up in a directory that has none.
    const cwd = process.cwd();
    process.chdir(dir);
    try {
      expect(await loadConfig(undefined)).toEqual({});
    } finally {
      process.chdir(cwd);
    }
    const e = await rejected(loadConfig(join(dir, "absent.json")));
    expect(e.code).toBe("CONFIG");
    expect(e.where).toContain("absent.json");
  });

  it("names the field that is wrong, and refuses unknown fields", async () => {
    const bad = write("bad.json", JSON.stringify({ intervalMs: 10, subject: { C: "Japan" } }));
    const e = await rejected(loadConfig(bad));
    expect(e.code).toBe("CONFIG");
    expect(e.message).toMatch(/intervalMs/);
    expect(e.message).toMatch(/subject\.C/);
    const unknown = write("unknown.json", JSON.stringify({ thingname: "x" }));
    expect((await rejected(loadConfig(unknown))).message).toMatch(/thingname/);
    const notJson = write("broken.json", "{ not json");
    expect((await rejected(loadConfig(notJson))).message).toMatch(/not valid JSON/);
  });

  it("flags override the file, the file overrides defaults", async () => {
    const file = write(
      "ok.json",
      JSON.stringify({
        topic: "topic_001",
        intervalMs: 10_000,
        subject: { O: "Acme", OU: "line 3" },
        keyType: "rsa-2048",
      }),
    );
    const plan = buildPlan({ interval: 2000, subject: ["OU=line 4"] }, await loadConfig(file));
    expect(plan.topic).toBe("topic_001");
    expect(plan.intervalMs).toBe(2000);
    expect(plan.subject).toEqual({ O: "Acme", OU: "line 4" });
    expect(plan.keyType).toBe("rsa-2048");
    expect(plan.thingNameTemplate).toBe("{{boardId}}-{{deviceId}}");
  });
});

describe("flags", () => {
  it("parses repeatable subject fields, UTF-8 included, and names a bad one", () => {
    expect(parseSubject(["O=株式会社テスト", "CN=a=b"])).toEqual({ O: "株式会社テスト", CN: "a=b" });
    expect(thrown(() => parseSubject(["X=1"])).code).toBe("USAGE");
  });

  it("takes the Wi-Fi password from a file or the environment, never from a flag value", () => {
    const pw = write("wifi.txt", "s3cret-from-file\n");
    expect(buildPlan({ wifiSsid: "net", wifiPasswordFile: pw }, {}).wifi).toEqual({
      ssid: "net",
      password: "s3cret-from-file",
    });
    process.env.PROVISION_WIFI_PASSWORD = "s3cret-from-env";
    expect(buildPlan({ wifiSsid: "net" }, {}).wifi).toEqual({ ssid: "net", password: "s3cret-from-env" });
    expect(buildPlan({}, {}).wifi).toBeUndefined();
  });

  it("refuses an interval under a second and an unreadable policy document", () => {
    expect(thrown(() => buildPlan({ interval: 10 }, {})).code).toBe("USAGE");
    const e = thrown(() => buildPlan({ policyDocument: write("p.json", "{") }, {}));
    expect(e.code).toBe("CONFIG");
  });
});
