/**
 * `provision ports`: serial ports with USB ids, serial number, USB location
 * (which stays with the physical socket, for fixtures) and a board guess.
 * Works where udevadm is absent (minimal images, containers) by reading sysfs.
 */
import { guessBoardByUsb } from "../boards/index.js";
import { listPorts } from "../ports/index.js";

export async function portsCommand(opts: { json?: boolean; all?: boolean }): Promise<void> {
  const ports = await listPorts({ guessBoard: (vid, pid) => guessBoardByUsb(vid, pid), usbOnly: !opts.all });
  if (opts.json) {
    process.stdout.write(`${JSON.stringify(ports)}\n`);
    return;
  }
  if (ports.length === 0) {
    process.stderr.write(
      "no USB serial ports found: plug the board in (a charge-only cable shows nothing), or check `dmesg`\n",
    );
    return;
  }
  const rows = ports.map((p) => [
    p.path,
    p.vid && p.pid ? `${p.vid}:${p.pid}` : "-",
    p.serialNumber ?? "-",
    p.usbLocation ?? "-",
    p.boardGuess ?? (p.boardCandidates.length > 0 ? p.boardCandidates.join("|") : "-"),
    [p.manufacturer, p.product].filter(Boolean).join(" ") || "-",
  ]);
  const header = ["PORT", "VID:PID", "SERIAL", "USB LOCATION", "BOARD", "DESCRIPTION"];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  for (const r of [header, ...rows]) {
    process.stdout.write(
      `${r
        .map((c, i) => c.padEnd(widths[i] ?? 0))
        .join("  ")
        .trimEnd()}\n`,
    );
  }
}
