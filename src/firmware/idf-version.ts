/**
 * ESP-IDF version numbers, on their own so that the component manifest
 * reader and idf.ts (which runs it) need not import each other.
 */
export interface IdfVersion {
  major: number;
  minor: number;
  patch: number;
  /** "5.5.5" */
  text: string;
}

export function parseVersion(text: string): IdfVersion {
  const m = /^v?(\d+)\.(\d+)(?:\.(\d+))?/.exec(text.trim());
  if (!m) throw new TypeError(`not an ESP-IDF version: ${JSON.stringify(text)}`);
  const [major, minor, patch] = [Number(m[1]), Number(m[2]), Number(m[3] ?? 0)];
  return { major, minor, patch, text: `${major}.${minor}.${patch}` };
}

export function compareVersions(a: string, b: string): number {
  const [x, y] = [parseVersion(a), parseVersion(b)];
  return x.major - y.major || x.minor - y.minor || x.patch - y.patch;
}
