/**
 * Text that came from a device (log lines, HELLO strings, refusal texts, the
 * first MQTT payload) is untrusted: a wrong or hostile device can send escape
 * sequences that retitle the terminal, move the cursor or forge a "✔
 * provisioned" line. Everything such text passes through on its way to a
 * terminal, a log file or `--json` goes through these functions, which show
 * control characters escaped instead of acting on them.
 */

/** Lines at least this long that are mostly unreadable are summarised instead of shown. */
const GARBAGE_MIN_LENGTH = 8;
const GARBAGE_SHARE = 0.3;
const GARBAGE_PREVIEW_CHARS = 16;

/**
 * Characters a terminal acts on or that hide what is shown: C0 controls (tab
 * excepted), DEL, C1 controls (U+0080-U+009F: 8-bit CSI/OSC), the Unicode
 * line/paragraph separators, and every format character (Cf: the bidi
 * overrides that reorder text, zero-width spaces and joiners, U+FEFF, the
 * soft hyphen, tag characters), which make two different strings look alike.
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
const UNSAFE = /[\u0000-\u0008\u000a-\u001f\u007f-\u009f\u2028\u2029\p{Cf}]/gu;
/** What JSON.stringify leaves raw of UNSAFE (it escapes C0 itself). */
const UNSAFE_IN_JSON = /[\u007f-\u009f\u2028\u2029\p{Cf}]/gu;

function escapeChar(ch: string): string {
  const c = ch.codePointAt(0) as number;
  if (ch === "\n") return "\\n";
  if (ch === "\r") return "\\r";
  if (c <= 0xff) return `\\x${c.toString(16).padStart(2, "0")}`;
  return c <= 0xffff ? `\\u${c.toString(16).padStart(4, "0")}` : `\\u{${c.toString(16)}}`;
}

/**
 * The characters in `text` a terminal would act on, line breaks aside (a
 * check for whole outputs: tests, and callers that must refuse such text).
 */
export function terminalControls(text: string): string[] {
  return [...text.matchAll(UNSAFE)].map((m) => m[0]).filter((ch) => ch !== "\n");
}

/** The text with every character a terminal would act on shown escaped (`\x1b`, `\r`, `\u202e`). */
export function printable(text: string): string {
  return text.replace(UNSAFE, escapeChar);
}

/** Share of a line that is replacement or control characters (wrong baud rate, wrong device). */
export function unreadableShare(line: string): number {
  if (line.length === 0) return 0;
  let bad = 0;
  for (const ch of line) {
    const c = ch.codePointAt(0) as number;
    if (c === 0xfffd || (c < 0x20 && c !== 0x09 && c !== 0x1b) || c === 0x7f || (c >= 0x80 && c <= 0x9f))
      bad++;
  }
  return bad / line.length;
}

/** SGR (colour) sequences: ESP-IDF colours its log lines with them. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching the escape character is the point
const SGR = /\u001b\[[0-9;]*m/g;

/**
 * A device log line as it may be shown: colours dropped (ESP-IDF's are
 * harmless, but a device could also hide text with them), everything else a
 * terminal acts on escaped, and binary garbage summarised (a screenful of
 * `\x00\ufffd...` says less than its length and a preview).
 */
export function deviceLogLine(line: string): string {
  if (line.length >= GARBAGE_MIN_LENGTH && unreadableShare(line) > GARBAGE_SHARE) {
    const preview = printable(line.slice(0, GARBAGE_PREVIEW_CHARS));
    return `[unreadable data, ${line.length} characters: ${preview}…]`;
  }
  return printable(line.replace(SGR, ""));
}

/**
 * JSON for stdout: JSON.stringify already escapes C0 controls, but leaves DEL,
 * C1 controls, U+2028/2029 and format characters (bidi overrides, zero-width
 * spaces) as raw characters, which a terminal showing the JSON still acts on
 * or hides.
 */
export function safeJson(value: unknown): string {
  // A character beyond U+FFFF (a tag character) is two UTF-16 units: each is escaped, as JSON wants.
  return JSON.stringify(value).replace(UNSAFE_IN_JSON, (ch) =>
    [...Array(ch.length).keys()].map((i) => `\\u${ch.charCodeAt(i).toString(16).padStart(4, "0")}`).join(""),
  );
}
