/**
 * A serial relay that holds the device's answers: a pseudo-terminal of its
 * own in front of a device's port, passing bytes both ways until the device
 * has sent `passFrames` protocol frames or a frame of type `holdType`, then
 * keeping what the device sends (that frame on) until `release()`. A test can then act while the tool is surely waiting
 * for an answer, however fast the device or slow the machine (freezing the
 * device after a step line raced the device's 2 ms answer). SIGUSR1 releases.
 */
import { startPtyProgram } from "./pty-program.test-helper.js";

const RELAY = `
import base64, os, pty, select, signal, sys, time, tty
dev = os.open(sys.argv[1], os.O_RDWR | os.O_NOCTTY)
tty.setraw(dev)
m, s = pty.openpty()
tty.setraw(s)
print(os.ttyname(s), flush=True)
pass_frames, hold_type = int(sys.argv[2]), int(sys.argv[3])
released = [False]
signal.signal(signal.SIGUSR1, lambda *_: released.__setitem__(0, True))
frames, frame, held, holding = 0, None, bytearray(), False
def frame_type(line):
    try:
        return base64.b64decode(bytes(line[1:]).strip())[1]
    except Exception:
        return -1
def from_device(data):
    global frames, frame, holding
    out = bytearray()
    for b in data:
        if holding:
            held.append(b)
            continue
        if frame is None:
            if b == 0x1E:
                frame = bytearray([b])
            else:
                out.append(b)
            continue
        frame.append(b)
        if b != 0x0A:
            continue
        if frames >= pass_frames or frame_type(frame) == hold_type:
            holding = True
            held.extend(frame)
            print("holding", flush=True)
        else:
            out.extend(frame)
            frames += 1
        frame = None
    if out:
        os.write(m, bytes(out))
while True:
    if released[0] and held:
        os.write(m, bytes(held))
        held.clear()
    r, _, _ = select.select([m, dev], [], [], 0.02)
    try:
        if m in r:
            os.write(dev, os.read(m, 4096))
        if dev in r:
            from_device(os.read(dev, 4096))
    except OSError:
        time.sleep(0.02)  # the tool closed its side: wait for the next open
`;

export interface HoldingRelay {
  /** The relay's own port: give it to the tool instead of the device's. */
  port: string;
  /** Resolves once the relay holds a frame back. */
  holding: Promise<void>;
  /** Let what the device sent meanwhile through, and everything after it. */
  release(): void;
  /** Ends the relay: its port goes away, as when a cable is pulled. */
  stop(): void;
}

export interface HoldFrom {
  /** Frames let through before holding (default: all). */
  passFrames?: number;
  /** Hold from the first device frame of this message type (e.g. 0x21, COMMIT's answer). */
  holdType?: number;
}

export async function startHoldingRelay(devicePort: string, from: HoldFrom): Promise<HoldingRelay> {
  const args = [String(from.passFrames ?? Number.MAX_SAFE_INTEGER), String(from.holdType ?? -1)];
  const { child, port, nextLine } = await startPtyProgram(RELAY, [devicePort, ...args]);
  const holding = nextLine().then(() => undefined);
  holding.catch(() => undefined);
  return {
    port,
    holding,
    release: () => child.kill("SIGUSR1"),
    stop: () => child.kill("SIGKILL"),
  };
}
