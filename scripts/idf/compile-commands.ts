/**
 * The project's own compile commands from ESP-IDF's compile_commands.json,
 * rewritten for another optimisation level and a throw-away object file.
 * ESP-IDF compiles at -Og by default (CONFIG_COMPILER_OPTIMIZATION_DEBUG),
 * where GCC's maybe-uninitialized analysis differs from -O2: a warning can
 * break one level and not the other, so both are compiled.
 */
import { isAbsolute, join, relative, sep } from "node:path";

export interface CompileCommand {
  directory: string;
  file: string;
  command?: string;
  arguments?: string[];
}

export type OptLevel = "-Og" | "-O2";

/** Shell-like split of a compile_commands.json `command` (ESP-IDF quotes with \" and '). */
export function splitCommand(command: string): string[] {
  const out: string[] = [];
  let cur = "";
  let quote: '"' | "'" | undefined;
  let started = false;
  for (let i = 0; i < command.length; i++) {
    const c = command[i] as string;
    if (quote) {
      if (c === quote) quote = undefined;
      else if (c === "\\" && quote === '"' && i + 1 < command.length) cur += command[++i];
      else cur += c;
    } else if (c === '"' || c === "'") {
      quote = c;
      started = true;
    } else if (c === "\\" && i + 1 < command.length) {
      cur += command[++i];
      started = true;
    } else if (/\s/.test(c)) {
      if (started) out.push(cur);
      cur = "";
      started = false;
    } else {
      cur += c;
      started = true;
    }
  }
  if (started) out.push(cur);
  return out;
}

/**
 * Entries for files under main/ and components/ of the project, and under the
 * given component folders outside it (a manifest's local dependencies);
 * ESP-IDF's own sources excluded.
 */
export function ownCommands(
  commands: CompileCommand[],
  projectDir: string,
  componentDirs: string[] = [],
): CompileCommand[] {
  const inside = (dir: string, file: string) => !relative(dir, file).startsWith("..");
  return commands.filter((c) => {
    const file = isAbsolute(c.file) ? c.file : join(c.directory, c.file);
    const rel = relative(projectDir, file);
    const own = !rel.startsWith("..") && (rel.startsWith(`main${sep}`) || rel.startsWith(`components${sep}`));
    return own || componentDirs.some((d) => inside(d, file));
  });
}

/** argv for one entry at `level`, writing its object to `objectFile`. */
export function argvFor(c: CompileCommand, level: OptLevel, objectFile: string): string[] {
  const argv = [...(c.arguments ?? splitCommand(c.command ?? ""))];
  const opt = argv.findIndex((a) => /^-O[0-3sgz]?$/.test(a));
  if (opt < 0) throw new Error(`no optimisation flag in the compile command of ${c.file}`);
  argv[opt] = level;
  const out = argv.indexOf("-o");
  if (out < 0 || out + 1 >= argv.length) throw new Error(`no -o in the compile command of ${c.file}`);
  argv[out + 1] = objectFile;
  // Plain diagnostics: they go into logs and JSON, not to a terminal.
  return argv.map((a) => (a.startsWith("-fdiagnostics-color") ? "-fdiagnostics-color=never" : a));
}
