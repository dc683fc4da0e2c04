/**
 * The local dependencies of idf_component.yml files, followed the way ESP-IDF's
 * component manager follows them, for kit builds where it is off
 * (src/firmware/component-manifest.ts): path and override_path relative to the
 * manifest, environment variables, rules on idf_version and target, the
 * manifests of local components in turn, and clear refusals.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { thrown } from "../src/errors.test-helper.js";
import { localComponents, ruleHolds } from "../src/firmware/component-manifest.js";
import { componentDirsArgs, parseVersion, resolveIdf } from "../src/firmware/idf.js";

const dir = mkdtempSync(join(tmpdir(), "component-manifest-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const v5 = { idfVersion: parseVersion("5.5.5"), target: "esp32c3" };
const v6 = { idfVersion: parseVersion("6.0.2"), target: "linux" };

function component(path: string, manifest?: string): string {
  mkdirSync(path, { recursive: true });
  writeFileSync(join(path, "CMakeLists.txt"), "idf_component_register()\n");
  if (manifest !== undefined) writeFileSync(join(path, "idf_component.yml"), manifest);
  return path;
}

function project(name: string, mainManifest: string): string {
  const root = join(dir, name);
  component(join(root, "main"), mainManifest);
  return root;
}

describe("rules", () => {
  it("evaluates idf_version comparisons and target tests", () => {
    expect(ruleHolds("idf_version >=6.0", v6)).toBe(true);
    expect(ruleHolds("idf_version >=6.0", v5)).toBe(false);
    expect(ruleHolds("idf_version <6.0", v5)).toBe(true);
    expect(ruleHolds("idf_version == 5.5.5", v5)).toBe(true);
    expect(ruleHolds("idf_version != 5.5.5", v5)).toBe(false);
    expect(ruleHolds("target in [esp32, esp32c3]", v5)).toBe(true);
    expect(ruleHolds("target not in [esp32, esp32c3]", v5)).toBe(false);
    expect(ruleHolds("target == linux", v6)).toBe(true);
    expect(ruleHolds("target != linux", v6)).toBe(false);
  });

  it("refuses a rule it cannot evaluate, naming it", () => {
    const e = thrown(() => ruleHolds("$CONFIG{BT_ENABLED} == True", v5, "/p/main/idf_component.yml"));
    expect(e.code).toBe("CONFIG");
    expect(e.message).toContain('"if: $CONFIG{BT_ENABLED} == True"');
    expect(e.where).toBe("/p/main/idf_component.yml");
  });
});

describe("local components of a project", () => {
  it("follows path and override_path, their own manifests, and the rules; registry names stay the kit's", () => {
    const shared = join(dir, "shared");
    component(join(shared, "leaf"));
    component(join(shared, "provision"), 'dependencies:\n  leaf:\n    path: "../leaf"\n');
    component(join(shared, "only_v6"));
    const root = project(
      "follows",
      [
        "dependencies:",
        '  idf: ">=5.2"',
        '  espressif/mqtt: "^1.0.0"',
        "  acme/provision:",
        '    version: "*"',
        '    override_path: "../../shared/provision"',
        "  only_v6:",
        '    path: "../../shared/only_v6"',
        "    rules:",
        '      - if: "idf_version >=6.0"',
        "",
      ].join("\n"),
    );
    expect(localComponents(root, v5).map((c) => [c.name, c.dir])).toEqual([
      ["acme/provision", join(shared, "provision")],
      ["leaf", join(shared, "leaf")],
    ]);
    expect(localComponents(root, v6).map((c) => c.name)).toEqual(["acme/provision", "only_v6", "leaf"]);
  });

  it("expands environment variables in paths, and says which one is missing", () => {
    const root = project("env", 'dependencies:\n  provision:\n    path: "$PROV_COMPONENTS/provision"\n');
    expect(localComponents(root, v5, { PROV_COMPONENTS: join(dir, "shared") })[0]?.dir).toBe(
      join(dir, "shared", "provision"),
    );
    const e = thrown(() => localComponents(root, v5, {}));
    expect(e.message).toContain('environment variable "PROV_COMPONENTS" is not set');
  });

  it("refuses a path that is not a component, and a folder named unlike the dependency", () => {
    const missing = project("missing", 'dependencies:\n  provision:\n    path: "../../nowhere"\n');
    expect(thrown(() => localComponents(missing, v5)).message).toMatch(
      /not a component \(no CMakeLists\.txt\)/,
    );
    component(join(dir, "renamed", "prov-copy"));
    const renamed = project(
      "renamed-user",
      'dependencies:\n  provision:\n    path: "../../renamed/prov-copy"\n',
    );
    const e = thrown(() => localComponents(renamed, v5));
    expect(e.message).toContain('ESP-IDF would call the component "prov-copy"');
    expect(e.hint).toContain('name the dependency "prov-copy"');
  });

  it("reports a manifest that is not YAML with its file", () => {
    const root = project("bad-yaml", "dependencies: [unclosed\n");
    const e = thrown(() => localComponents(root, v5));
    expect(e.message).toMatch(/not valid YAML/);
    expect(e.where).toBe(join(root, "main", "idf_component.yml"));
  });

  it("gives the kit build the component folders next to the kit's own, and none it finds itself", async () => {
    const idf = await resolveIdf({ kitVersion: "5.5.5" });
    const root = project("kit", 'dependencies:\n  provision:\n    path: "../../shared/provision"\n');
    component(
      join(root, "components", "local_one"),
      'dependencies:\n  leaf:\n    path: "../../../shared/leaf"\n',
    );
    const [arg] = componentDirsArgs(idf, root, "esp32c3");
    const dirs = arg?.replace("-DEXTRA_COMPONENT_DIRS=", "").split(";");
    expect(dirs?.[0]).toMatch(/components-extra$/);
    expect(dirs?.slice(1)).toEqual([join(dir, "shared", "provision"), join(dir, "shared", "leaf")]);
  });
});
