/**
 * RFC 2217 (Telnet Com Port Control Option): a serial port over TCP with
 * its modem lines and baud rate, as ser2net, pyserial's `rfc2217://` and
 * esptool speak it. Pure: a decoder that splits a received byte stream into
 * data and Telnet commands, and encoders for what either side sends. The
 * client transport (network.ts) and the emulated board's server
 * (src/emulator/board.ts) both use it.
 */

export const IAC = 255;
const SB = 250;
const SE = 240;
export const WILL = 251;
export const WONT = 252;
export const DO = 253;
export const DONT = 254;

export const TELNET_OPTION = { BINARY: 0, SGA: 3, COM_PORT: 44 } as const;

/** Client-to-server subcommands; the server answers each with the same code + 100. */
export const COM_PORT = {
  SET_BAUDRATE: 1,
  SET_DATASIZE: 2,
  SET_PARITY: 3,
  SET_STOPSIZE: 4,
  SET_CONTROL: 5,
  NOTIFY_LINESTATE: 6,
  NOTIFY_MODEMSTATE: 7,
  FLOWCONTROL_SUSPEND: 8,
  FLOWCONTROL_RESUME: 9,
  SET_LINESTATE_MASK: 10,
  SET_MODEMSTATE_MASK: 11,
  PURGE_DATA: 12,
} as const;
export const SERVER_OFFSET = 100;

/** SET_CONTROL values for the two lines a reset circuit uses. */
export const CONTROL = { DTR_ON: 8, DTR_OFF: 9, RTS_ON: 11, RTS_OFF: 12 } as const;

export type TelnetEvent =
  | { kind: "data"; bytes: Buffer }
  | { kind: "negotiate"; verb: number; option: number }
  | { kind: "subnegotiate"; option: number; code: number; value: Buffer };

/** Splits a Telnet byte stream into data and commands; keeps a partial command across pushes. */
export class TelnetDecoder {
  private held = Buffer.alloc(0);

  push(bytes: Buffer): TelnetEvent[] {
    const buf = this.held.length > 0 ? Buffer.concat([this.held, bytes]) : bytes;
    this.held = Buffer.alloc(0);
    const events: TelnetEvent[] = [];
    const data: number[] = [];
    const flush = () => {
      if (data.length > 0) events.push({ kind: "data", bytes: Buffer.from(data.splice(0)) });
    };
    let i = 0;
    while (i < buf.length) {
      const b = buf[i] as number;
      if (b !== IAC) {
        data.push(b);
        i++;
        continue;
      }
      if (i + 1 >= buf.length) break; // IAC at the end: wait for the next byte
      const verb = buf[i + 1] as number;
      if (verb === IAC) {
        data.push(IAC);
        i += 2;
      } else if (verb === WILL || verb === WONT || verb === DO || verb === DONT) {
        if (i + 2 >= buf.length) break;
        flush();
        events.push({ kind: "negotiate", verb, option: buf[i + 2] as number });
        i += 3;
      } else if (verb === SB) {
        const end = findSubnegotiationEnd(buf, i + 2);
        if (end < 0) break;
        flush();
        const body = unescapeIac(buf.subarray(i + 2, end));
        events.push({
          kind: "subnegotiate",
          option: body[0] ?? 0,
          code: body[1] ?? 0,
          value: body.subarray(2),
        });
        i = end + 2;
      } else {
        i += 2; // NOP, GA and the like: nothing for a serial link
      }
    }
    flush();
    if (i < buf.length) this.held = Buffer.from(buf.subarray(i));
    return events;
  }
}

/** The index of the IAC of the IAC SE closing a subnegotiation that starts at `from`, or -1. */
function findSubnegotiationEnd(buf: Buffer, from: number): number {
  for (let j = from; j + 1 < buf.length; j++) {
    if (buf[j] !== IAC) continue;
    if (buf[j + 1] === SE) return j;
    j++; // IAC IAC: an escaped 255 inside the value
  }
  return -1;
}

function unescapeIac(b: Buffer): Buffer {
  const out: number[] = [];
  for (let j = 0; j < b.length; j++) {
    out.push(b[j] as number);
    if (b[j] === IAC && b[j + 1] === IAC) j++;
  }
  return Buffer.from(out);
}

/** Data with every 255 doubled, as Telnet carries it. */
export function escapeData(bytes: Uint8Array): Buffer {
  if (!bytes.includes(IAC)) return Buffer.from(bytes);
  const out: number[] = [];
  for (const b of bytes) {
    out.push(b);
    if (b === IAC) out.push(IAC);
  }
  return Buffer.from(out);
}

export function negotiation(verb: number, option: number): Buffer {
  return Buffer.from([IAC, verb, option]);
}

export function subnegotiation(code: number, value: Uint8Array): Buffer {
  return Buffer.concat([
    Buffer.from([IAC, SB, TELNET_OPTION.COM_PORT, code]),
    escapeData(value),
    Buffer.from([IAC, SE]),
  ]);
}

export function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
}

/**
 * Telnet option negotiation for one side, with the state that keeps two
 * agreeable sides from answering each other forever (RFC 1143, simplified):
 * a request that matches the current state, or answers our own request, is
 * not answered.
 */
export class TelnetOptions {
  /** Options we perform (we said WILL, they said DO) and they perform. */
  private readonly ours = new Set<number>();
  private readonly theirs = new Set<number>();
  private readonly askedOurs = new Set<number>();
  private readonly askedTheirs = new Set<number>();

  constructor(private readonly acceptable: (option: number) => boolean) {}

  /** WILL option (we offer to perform it) or DO option (we ask them to). */
  request(verb: typeof WILL | typeof DO, option: number): Buffer {
    (verb === WILL ? this.askedOurs : this.askedTheirs).add(option);
    return negotiation(verb, option);
  }

  isAgreed(side: "ours" | "theirs", option: number): boolean {
    return (side === "ours" ? this.ours : this.theirs).has(option);
  }

  /** The reply to a received WILL/WONT/DO/DONT (empty when none is due). */
  receive(verb: number, option: number): Buffer {
    const peerPerforms = verb === WILL || verb === WONT;
    const enable = verb === WILL || verb === DO;
    const state = peerPerforms ? this.theirs : this.ours;
    const asked = peerPerforms ? this.askedTheirs : this.askedOurs;
    const [yes, no] = peerPerforms ? [DO, DONT] : [WILL, WONT];
    if (asked.delete(option)) {
      if (enable) state.add(option);
      else state.delete(option);
      return Buffer.alloc(0);
    }
    if (enable === state.has(option)) return Buffer.alloc(0);
    if (!enable) {
      state.delete(option);
      return negotiation(no, option);
    }
    if (!this.acceptable(option)) return negotiation(no, option);
    state.add(option);
    return negotiation(yes, option);
  }
}
