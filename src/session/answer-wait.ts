/**
 * How long to wait for one attempt's answer when its timeout passes. On a
 * slow line (a device at 50 B/s) the device's earlier output (its boot log)
 * is still queued, then the answer itself takes seconds: retrying only puts
 * a second copy behind it, and "no answer" is wrong. So the wait goes on
 * while a line, frame or log text, is visibly half-way through arriving,
 * until it pauses FRAME_STALL_MS (a USB bridge delivers a slow UART in
 * bursts; the twin at 500 baud writes 2 bytes every 40 ms). Lines are
 * bounded, so is the wait. Complete log lines (a device that only logs:
 * wrong firmware) and garbage (a wrong baud rate) do not count: those fail
 * at the timeout, as before.
 */
export const FRAME_STALL_MS = 5000;

export interface AnswerWait {
  now: number;
  timeoutMs: number;
  /** Characters of a frame line, and bytes of a log line, begun and not ended. */
  partialFrame: number;
  partialLog: number;
  /** The line has shown garbage during this exchange (broken frames, unreadable lines). */
  garbage: boolean;
  /** When the last byte arrived. */
  lastByteAt: number;
}

/** Milliseconds more to wait, or 0: the attempt has failed. */
export function waitLonger(w: AnswerWait): number {
  if (w.garbage || w.partialFrame + w.partialLog === 0) return 0;
  return Math.max(0, Math.max(w.timeoutMs, FRAME_STALL_MS) - (w.now - w.lastByteAt));
}

/**
 * Calls `giveUp` once the attempt has failed by waitLonger's rule, reading
 * the line's state each time its timer fires; returns the cancel function
 * (the answer came).
 */
export function answerTimer(
  timeoutMs: number,
  line: () => Omit<AnswerWait, "now" | "timeoutMs">,
  giveUp: () => void,
): () => void {
  const expire = () => {
    const more = waitLonger({ ...line(), timeoutMs, now: Date.now() });
    if (more > 0) timer = setTimeout(expire, more);
    else giveUp();
  };
  let timer = setTimeout(expire, timeoutMs);
  return () => clearTimeout(timer);
}
