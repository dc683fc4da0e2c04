/**
 * What the device printed that is not a frame: the last lines, kept escaped
 * (this text reaches terminals, log files and --json), and the test that
 * tells wrong-baud noise from log text.
 */
import { deviceLogLine } from "../printable.js";

export class DeviceLog {
  private readonly ring: string[] = [];

  constructor(private readonly limit: number) {}

  /** Keeps a line (escaped) and returns it as kept. */
  add(text: string): string {
    const line = deviceLogLine(text);
    this.ring.push(line);
    if (this.ring.length > this.limit) this.ring.shift();
    return line;
  }

  /** Oldest first. */
  lines(): string[] {
    return [...this.ring];
  }

  last(n: number): string[] {
    return this.ring.slice(-n);
  }

  /** The device printed something (it runs, but maybe not the provisioning firmware). */
  heard(): boolean {
    return this.ring.length > 0;
  }
}

/** Wrong-baud noise decodes to replacement and control characters; real log text does not. */
export function isUnreadable(line: string): boolean {
  if (line.length < 4) return false;
  let bad = 0;
  for (const ch of line) {
    const c = ch.codePointAt(0) as number;
    if (c === 0xfffd || (c < 0x20 && c !== 0x09 && c !== 0x1b) || c === 0x7f) bad++;
  }
  return bad / line.length > 0.3;
}
