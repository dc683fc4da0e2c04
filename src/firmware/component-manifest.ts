/**
 * The local dependencies of an ESP-IDF project's component manifests
 * (`idf_component.yml`), for builds where ESP-IDF's component manager is off.
 *
 * A product adds the provision component the way ESP-IDF documents it: a
 * dependency in `main/idf_component.yml` with `path:` (or `override_path:`,
 * an example's pointer at the component it belongs to). With idf.py the
 * component manager reads that and hands the folder to the build. The ESP-IDF
 * kits here run without it (`IDF_COMPONENT_MANAGER=0`: no registry, and
 * Debian has no idf-component-manager), so the build does what the manager
 * does for local dependencies: read the manifests of main/ and components/*,
 * follow each `path` / `override_path` whose `rules` hold (recursively: a
 * local component's own manifest counts too) and pass the folders to CMake
 * as EXTRA_COMPONENT_DIRS. Registry dependencies (`espressif/mqtt`, ...) come
 * from the kit's components-extra/, as before. The component's REQUIRES are
 * the product's own (main REQUIRES the component), as with the manager.
 */
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { basename, dirname, isAbsolute, join, resolve } from "node:path";
import { parse } from "yaml";
import { z } from "zod";
import { ProvisionError } from "../errors.js";
import { compareVersions, type IdfVersion } from "./idf-version.js";

const MANIFEST = "idf_component.yml";

const ruleSchema = z.object({ if: z.string() }).passthrough();
const dependencySchema = z.union([
  z.string(),
  z
    .object({
      version: z.string().optional(),
      path: z.string().optional(),
      override_path: z.string().optional(),
      rules: z.array(ruleSchema).optional(),
    })
    .passthrough(),
]);
const manifestSchema = z
  .object({ dependencies: z.record(z.string(), dependencySchema.nullable()).optional() })
  .passthrough();

/** What a rule's `if` may test, as the component manager names it. */
export interface RuleContext {
  idfVersion: IdfVersion;
  target: string;
}

export interface LocalDependency {
  /** The dependency's name in the manifest ("provision", "acme/provision"). */
  name: string;
  /** The component folder, absolute. */
  dir: string;
  /** The manifest that asked for it. */
  manifest: string;
}

function manifestError(file: string, what: string, hint: string): ProvisionError {
  return new ProvisionError("CONFIG", `${MANIFEST} cannot be used without the component manager: ${what}`, {
    where: file,
    hint,
  });
}

/**
 * One `if` clause: `idf_version <op> X[.Y[.Z]]`, `target == x`, `target != x`,
 * `target in [a, b]`, `target not in [a, b]`. Anything else is refused by name.
 */
export function ruleHolds(rule: string, ctx: RuleContext, file = MANIFEST): boolean {
  const text = rule.trim();
  const version = /^idf_version\s*(>=|<=|==|!=|>|<)\s*v?(\d+(?:\.\d+){0,2})$/.exec(text);
  if (version?.[1] && version[2]) {
    const c = compareVersions(ctx.idfVersion.text, version[2]);
    const op = version[1];
    return op === ">="
      ? c >= 0
      : op === "<="
        ? c <= 0
        : op === ">"
          ? c > 0
          : op === "<"
            ? c < 0
            : op === "=="
              ? c === 0
              : c !== 0;
  }
  const equals = /^target\s*(==|!=)\s*(\w+)$/.exec(text);
  if (equals?.[1] && equals[2]) return (ctx.target === equals[2]) === (equals[1] === "==");
  const list = /^target\s+(not\s+)?in\s*\[([^\]]*)\]$/.exec(text);
  if (list?.[2] !== undefined) {
    const targets = list[2].split(",").map((t) => t.trim().replace(/^["']|["']$/g, ""));
    return targets.includes(ctx.target) !== Boolean(list[1]);
  }
  throw manifestError(
    file,
    `the rule "if: ${rule}" is not one this build evaluates`,
    "use idf_version <op> X.Y.Z or target == / != / in [...] in rules of local dependencies, or build with idf.py and the component manager",
  );
}

/** `$VAR` and `${VAR}` from the environment, as the component manager expands them in paths. */
function expandVariables(text: string, env: NodeJS.ProcessEnv, file: string): string {
  return text.replace(/\$\{(\w+)\}|\$(\w+)/g, (_, braced: string | undefined, bare: string | undefined) => {
    const name = braced ?? bare ?? "";
    const value = env[name];
    if (value === undefined)
      throw manifestError(
        file,
        `environment variable "${name}" is not set`,
        `set ${name}, or write the path out`,
      );
    return value;
  });
}

function readManifest(file: string): z.infer<typeof manifestSchema> {
  let data: unknown;
  try {
    data = parse(readFileSync(file, "utf8"));
  } catch (e) {
    throw manifestError(file, `it is not valid YAML (${(e as Error).message})`, "fix the manifest's syntax");
  }
  const parsed = manifestSchema.safeParse(data ?? {});
  if (!parsed.success)
    throw manifestError(
      file,
      `${parsed.error.issues[0]?.path.join(".") ?? "dependencies"}: ${parsed.error.issues[0]?.message}`,
      "dependencies map names to a version string or to {version, path, override_path, rules}",
    );
  return parsed.data;
}

/** The local dependencies of one manifest whose rules hold. */
export function localDependenciesOf(
  file: string,
  ctx: RuleContext,
  env: NodeJS.ProcessEnv = process.env,
): LocalDependency[] {
  const out: LocalDependency[] = [];
  for (const [name, dep] of Object.entries(readManifest(file).dependencies ?? {})) {
    if (dep === null || typeof dep === "string") continue;
    const raw = dep.override_path ?? dep.path;
    if (raw === undefined) continue;
    if (!(dep.rules ?? []).every((r) => ruleHolds(r.if, ctx, file))) continue;
    const expanded = expandVariables(raw, env, file);
    const dir = isAbsolute(expanded) ? resolve(expanded) : resolve(dirname(file), expanded);
    if (!existsSync(join(dir, "CMakeLists.txt")))
      throw manifestError(
        file,
        `dependency "${name}" points at ${dir}, which is not a component (no CMakeLists.txt)`,
        "point path / override_path at the component's folder",
      );
    // ESP-IDF names a component after its folder; REQUIRES <name> must find it under that name.
    const component = name.split("/").pop() ?? name;
    if (basename(dir) !== component)
      throw manifestError(
        file,
        `dependency "${name}" points at a folder named "${basename(dir)}"; ESP-IDF would call the component "${basename(dir)}"`,
        `name the dependency "${basename(dir)}", or the folder "${component}"`,
      );
    out.push({ name, dir, manifest: file });
  }
  return out;
}

/** The manifests ESP-IDF's component manager reads in a project: main/ and each folder of components/. */
function projectManifests(projectDir: string): string[] {
  const components = join(projectDir, "components");
  const dirs = [
    join(projectDir, "main"),
    ...(existsSync(components)
      ? readdirSync(components)
          .map((d) => join(components, d))
          .filter((d) => statSync(d).isDirectory())
      : []),
  ];
  return dirs.map((d) => join(d, MANIFEST)).filter((f) => existsSync(f));
}

/**
 * Every local component the project's manifests reach (each once, nearest
 * first), with the manifests of those components followed too.
 */
export function localComponents(
  projectDir: string,
  ctx: RuleContext,
  env: NodeJS.ProcessEnv = process.env,
): LocalDependency[] {
  const found = new Map<string, LocalDependency>();
  const queue = projectManifests(projectDir);
  for (let i = 0; i < queue.length; i++) {
    for (const dep of localDependenciesOf(queue[i] as string, ctx, env)) {
      if (found.has(dep.dir)) continue;
      found.set(dep.dir, dep);
      const own = join(dep.dir, MANIFEST);
      if (existsSync(own)) queue.push(own);
    }
  }
  return [...found.values()];
}
