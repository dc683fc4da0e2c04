/**
 * Every file a flag names is read with a size cap: `/dev/zero` as a password
 * file, a certificate or a fixture map used to grow the process until it
 * died (std::bad_alloc), and a 200 MB config took 525 MB. A regular file
 * over its cap is refused from its size alone; anything else (a device, a
 * pipe) is read at most one byte past the cap. Refused with USAGE (exit 2),
 * naming the flag, the file and the limit.
 */
import { closeSync, fstatSync, openSync, readSync } from "node:fs";
import { ProvisionError } from "./errors.js";

const KiB = 1024;

/** The caps, by what the file is: far above any real one, far below harm. */
export const FILE_LIMITS = {
  /** A certificate PEM (one X.509, RSA-4096 with extensions is ~2 KB). */
  certificate: 16 * KiB,
  /** A CA bundle (Amazon's roots are ~2.6 KB; the device's credential set holds 8 KB in all). */
  caBundle: 64 * KiB,
  /** provision.config.json and the local AWS IoT's info file. */
  config: 256 * KiB,
  /** A station's fixture map (one line per slot). */
  fixture: 256 * KiB,
  /** A Wi-Fi password file (WPA2: at most 64 characters, and a newline). */
  password: 1 * KiB,
  /** An IoT policy document (AWS: 2048 characters without whitespace). */
  policy: 32 * KiB,
} as const;

export type FileKind = keyof typeof FILE_LIMITS;

function size(bytes: number): string {
  return bytes >= KiB && bytes % KiB === 0 ? `${bytes / KiB} KiB` : `${bytes} bytes`;
}

function tooBig(path: string, what: string, flag: string, limit: number, seen: string): ProvisionError {
  return new ProvisionError("USAGE", `${flag} ${path}: the ${what} is ${seen}; the limit is ${size(limit)}`, {
    where: path,
    hint: `give ${flag} the ${what} file itself (at most ${size(limit)})`,
    details: { limitBytes: limit },
  });
}

/**
 * The file's text, or a USAGE error when it is larger than its kind's cap.
 * Errors opening or reading it are thrown as they are (the caller names them).
 */
export function readBoundedFile(path: string, kind: FileKind, what: string, flag: string): string {
  const limit = FILE_LIMITS[kind];
  const fd = openSync(path, "r");
  try {
    const st = fstatSync(fd);
    if (st.isFile() && st.size > limit) throw tooBig(path, what, flag, limit, size(st.size));
    const buf = Buffer.alloc(limit + 1);
    let got = 0;
    for (;;) {
      const n = readSync(fd, buf, got, buf.length - got, null);
      if (n === 0) break;
      got += n;
      if (got > limit) throw tooBig(path, what, flag, limit, `more than ${size(limit)}`);
    }
    return buf.subarray(0, got).toString("utf8");
  } finally {
    closeSync(fd);
  }
}
