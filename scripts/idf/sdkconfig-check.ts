/**
 * Did every line of sdkconfig.defaults take effect? ESP-IDF's kconfgen only
 * warns about a symbol it does not know and silently drops a value whose
 * dependencies are not met, so a setting can do nothing without anyone
 * noticing (it happened: CONFIG_MQTT_OUTBOX_EXPIRED_TIMEOUT_MS without
 * CONFIG_MQTT_USE_CUSTOM_CONFIG). Here both are failures.
 */

export interface DefaultsLine {
  file: string;
  line: number;
  symbol: string;
  /** As written after `=`, or "n" for `# CONFIG_X is not set`. */
  value: string;
}

export interface SdkconfigProblem extends DefaultsLine {
  /** What the generated sdkconfig has instead: undefined = the symbol is absent (unknown or dependencies unmet). */
  actual: string | undefined;
}

const ASSIGN = /^(CONFIG_[A-Za-z0-9_]+)=(.*)$/;
const NOT_SET = /^# (CONFIG_[A-Za-z0-9_]+) is not set$/;

/** The assignments of a sdkconfig or sdkconfig.defaults text, in order. */
export function parseSdkconfig(text: string, file = "sdkconfig"): DefaultsLine[] {
  const out: DefaultsLine[] = [];
  text.split("\n").forEach((raw, i) => {
    const line = raw.trim();
    const a = ASSIGN.exec(line);
    const n = a ? undefined : NOT_SET.exec(line);
    if (a?.[1] !== undefined && a[2] !== undefined)
      out.push({ file, line: i + 1, symbol: a[1], value: a[2] });
    else if (n?.[1] !== undefined) out.push({ file, line: i + 1, symbol: n[1], value: "n" });
  });
  return out;
}

/** Values compare as kconfgen writes them: hex case-insensitive, strings with their quotes. */
function normalise(value: string): string {
  return /^0x[0-9a-f]+$/i.test(value)
    ? `0x${value
        .slice(2)
        .toLowerCase()
        .replace(/^0+(?=.)/, "")}`
    : value;
}

/**
 * Every assignment in the defaults files (later files win, as in ESP-IDF)
 * compared with the generated sdkconfig. Returns the lines that did not take
 * effect; an empty list means every setting is in force.
 */
export function checkSdkconfig(defaults: DefaultsLine[], generatedText: string): SdkconfigProblem[] {
  const generated = new Map(parseSdkconfig(generatedText).map((l) => [l.symbol, l.value]));
  const last = new Map<string, DefaultsLine>();
  for (const d of defaults) last.set(d.symbol, d);
  const problems: SdkconfigProblem[] = [];
  for (const d of last.values()) {
    const actual = generated.get(d.symbol);
    if (actual === undefined || normalise(actual) !== normalise(d.value)) problems.push({ ...d, actual });
  }
  return problems;
}

export function describeProblem(p: SdkconfigProblem): string {
  const what =
    p.actual === undefined
      ? "not in the generated sdkconfig (unknown symbol, or its dependencies are not met)"
      : `is ${p.actual} in the generated sdkconfig`;
  return `${p.file}:${p.line}: ${p.symbol}=${p.value} ${what}`;
}
