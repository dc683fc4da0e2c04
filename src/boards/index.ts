/**
 * Board definitions: load and validate boards/*.json, look a board up by id,
 * and guess candidates from a serial port's USB vendor/product id.
 *
 * Loading is synchronous on purpose: a handful of small files read once per
 * run, needed before anything else can start.
 */
import { readdirSync, readFileSync } from "node:fs";
import { basename, join, resolve } from "node:path";
import type { z } from "zod";
import { ProvisionError } from "../errors.js";
import { PACKAGE_ROOT } from "../package-root.js";
import { type Board, BoardSchema } from "./schema.js";

export {
  parseResetSequence,
  RESET_IDLE_SIGNALS,
  type ResetStep,
  resetStepsFor,
  runResetSteps,
} from "./reset.js";
export type { Board, Chip, KeyStoreKind, KeyType } from "./schema.js";
export { BoardSchema, CHIPS, KEY_STORES, KEY_TYPES } from "./schema.js";

/** The package's boards/ directory. */
export const BOARDS_DIR_DEFAULT = join(PACKAGE_ROOT, "boards");

const cache = new Map<string, Board[]>();

/** "flash.partitions[2].size: must be like 0x6000 ..." for each issue. */
export function formatIssues(issues: readonly z.core.$ZodIssue[]): string {
  return issues
    .map((i) => {
      const path = i.path
        .map((p, n) => (typeof p === "number" ? `[${p}]` : n === 0 ? String(p) : `.${String(p)}`))
        .join("");
      return `${path || "(top level)"}: ${i.message}`;
    })
    .join("; ");
}

/** Validates one parsed board file; `file` is only used to name it in errors. */
export function parseBoard(data: unknown, file: string): Board {
  const result = BoardSchema.safeParse(data);
  if (!result.success) {
    throw new ProvisionError("CONFIG", `invalid board definition: ${formatIssues(result.error.issues)}`, {
      where: file,
      hint: "fix the named field (boards/schema.json describes every field)",
      details: { issues: result.error.issues.map((i) => ({ path: i.path.map(String), message: i.message })) },
    });
  }
  const stem = basename(file, ".json");
  if (result.data.id !== stem) {
    throw new ProvisionError(
      "CONFIG",
      `invalid board definition: id: "${result.data.id}" differs from the file name`,
      {
        where: file,
        hint: `rename the file to ${result.data.id}.json or set "id": "${stem}"`,
      },
    );
  }
  return result.data;
}

/** Reads and validates every *.json (except schema.json) in `dir`, sorted by id. */
export function loadBoards(dir: string = BOARDS_DIR_DEFAULT): Board[] {
  const key = resolve(dir);
  const cached = cache.get(key);
  if (cached) return cached;
  let names: string[];
  try {
    names = readdirSync(key).filter((n) => n.endsWith(".json") && n !== "schema.json");
  } catch (e) {
    throw new ProvisionError("CONFIG", `cannot read the boards directory: ${(e as Error).message}`, {
      where: key,
      cause: e,
      hint: "pass the directory that holds the board JSON files",
    });
  }
  const boards = names.sort().map((name) => {
    const file = join(key, name);
    let data: unknown;
    try {
      data = JSON.parse(readFileSync(file, "utf8"));
    } catch (e) {
      throw new ProvisionError("CONFIG", `board file is not valid JSON: ${(e as Error).message}`, {
        where: file,
        cause: e,
      });
    }
    return parseBoard(data, file);
  });
  cache.set(key, boards);
  return boards;
}

/** The board with this id; UNKNOWN_BOARD lists the known ids otherwise. */
export function getBoard(id: string, dir?: string): Board {
  const boards = loadBoards(dir);
  const board = boards.find((b) => b.id === id);
  if (!board) {
    const known = boards.map((b) => b.id).join(", ");
    throw new ProvisionError("UNKNOWN_BOARD", `unknown board "${id}"; known boards: ${known}`, {
      where: "--board",
      hint: `use one of: ${known}`,
      details: { knownBoards: boards.map((b) => b.id) },
    });
  }
  return board;
}

function normaliseUsbId(v: string | number): string {
  const s = typeof v === "number" ? v.toString(16) : v.trim().toLowerCase().replace(/^0x/, "");
  return s.padStart(4, "0");
}

/**
 * Boards whose USB-serial bridge has this vendor/product id, best first.
 * A bridge is shared by many boards (every CP2102 board looks alike), so
 * this returns candidates; the device's HELLO names the real board.
 * Boards that list fewer bridges are more specific and come first.
 */
export function guessBoardByUsb(vid: string | number, pid: string | number, dir?: string): Board[] {
  const v = normaliseUsbId(vid);
  const p = normaliseUsbId(pid);
  return loadBoards(dir)
    .filter((b) => b.usb.some((u) => u.vid === v && u.pid === p))
    .sort((a, b) => a.usb.length - b.usb.length || a.id.localeCompare(b.id));
}
