/**
 * Where a view listens and who may read it. Safe by default: `--ui PORT`
 * listens on 127.0.0.1 only; a host that is not loopback (`--ui
 * 0.0.0.0:8080`, the line's network) needs a token, generated when
 * `--ui-token-file` gives none, and printed as part of the URL. Checked
 * before the station touches a device or the cloud.
 */
import { randomBytes } from "node:crypto";
import { isIP } from "node:net";
import { readBoundedFile } from "../bounded-read.js";
import { ProvisionError } from "../errors.js";

export const UI_HOST_DEFAULT = "127.0.0.1";
/** A token shorter than this is guessable over a line's network. */
export const TOKEN_MIN_LENGTH = 16;

export interface UiBind {
  host: string;
  port: number;
  /** Required of every reader of the state when set. */
  token?: string;
  /** Whether the token was made here (then the URL printed carries it). */
  tokenGenerated: boolean;
  loopback: boolean;
}

/** 127.0.0.0/8, ::1 and localhost: reachable from this machine only. */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, "").toLowerCase();
  if (h === "localhost" || h === "::1" || h === "0:0:0:0:0:0:0:1") return true;
  return isIP(h) === 4 && h.startsWith("127.");
}

/** `[HOST:]PORT`, `[::1]:PORT`; HOST defaults to 127.0.0.1. */
export function parseBind(text: string, flag = "--ui"): { host: string; port: number } {
  const m = /^(?:(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):)?(\d{1,5})$/.exec(text.trim());
  const port = m ? Number(m[2]) : Number.NaN;
  if (!m || port > 65535) {
    throw new ProvisionError("USAGE", `${flag} ${text}: expected [HOST:]PORT, e.g. 8080 or 0.0.0.0:8080`, {
      hint: `${flag} 8080 serves on ${UI_HOST_DEFAULT} (this machine only); give a host (0.0.0.0:8080) to serve the line's network, with a token`,
    });
  }
  return { host: (m[1] ?? UI_HOST_DEFAULT).replace(/^\[|\]$/g, ""), port };
}

function readToken(file: string, flag: string): string {
  let text: string;
  try {
    text = readBoundedFile(file, "password", "token", flag);
  } catch (e) {
    if (e instanceof ProvisionError) throw e;
    throw new ProvisionError("USAGE", `${flag} ${file}: ${(e as Error).message}`, { where: file });
  }
  const token = text.trim();
  if (token.length < TOKEN_MIN_LENGTH || /\s/.test(token)) {
    throw new ProvisionError(
      "USAGE",
      `${flag} ${file}: the token must be one word of at least ${TOKEN_MIN_LENGTH} characters`,
      { where: file, hint: `e.g. openssl rand -hex 16 > ${file}` },
    );
  }
  return token;
}

/** The bind and its token: a non-loopback host always gets one. */
export function uiBind(text: string, tokenFile: string | undefined, flag = "--ui"): UiBind {
  const { host, port } = parseBind(text, flag);
  const loopback = isLoopbackHost(host);
  const given = tokenFile === undefined ? undefined : readToken(tokenFile, `${flag}-token-file`);
  if (given !== undefined) return { host, port, token: given, tokenGenerated: false, loopback };
  if (loopback) return { host, port, tokenGenerated: false, loopback };
  return { host, port, token: randomBytes(16).toString("hex"), tokenGenerated: true, loopback };
}
