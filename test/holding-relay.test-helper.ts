/**
 * A serial relay that holds the device's answers: a pseudo-terminal of its
 * own in front of a device's port, passing bytes both ways until the device
 * has sent `passFrames` protocol frames, then keeping what the device sends
 * until `release()`. A test can then act while the tool is surely waiting
 * for an answer, however fast the device or slow the machine (freezing the
 * device after a step line raced the device's 2 ms answer).
 *
 * Python's pty module makes the pseudo-terminal (Node has none built in);
 * SIGUSR1 releases.
 */
import { type ChildProcess, spawn } from "node:child_process";

const RELAY = `
import os, pty, select, signal, sys, time, tty
dev = os.open(sys.argv[1], os.O_RDWR | os.O_NOCTTY)
tty.setraw(dev)
m, s = pty.openpty()
tty.setraw(s)
print(os.ttyname(s), flush=True)
pass_frames = int(sys.argv[2])
released = [False]
signal.signal(signal.SIGUSR1, lambda *_: released.__setitem__(0, True))
frames, in_frame, held = 0, False, bytearray()
def from_device(data):
    global frames, in_frame
    out = bytearray()
    for b in data:
        if frames >= pass_frames and not released[0]:
            held.append(b)
            continue
        out.append(b)
        if b == 0x1E:
            in_frame = True
        elif b == 0x0A and in_frame:
            in_frame = False
            frames += 1
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
  /** Let what the device sent meanwhile through, and everything after it. */
  release(): void;
  stop(): void;
}

export async function startHoldingRelay(devicePort: string, passFrames: number): Promise<HoldingRelay> {
  const child: ChildProcess = spawn("python3", ["-c", RELAY, devicePort, String(passFrames)], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const port = await new Promise<string>((resolve, reject) => {
    child.once("error", reject);
    child.once("exit", (code) => reject(new Error(`the relay exited (${code}) before it opened a port`)));
    child.stdout?.once("data", (d) => resolve(String(d).trim()));
  });
  return {
    port,
    release: () => child.kill("SIGUSR1"),
    stop: () => child.kill("SIGKILL"),
  };
}
