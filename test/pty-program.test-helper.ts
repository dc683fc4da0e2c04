/**
 * A Python program on the far end of a pseudo-terminal, standing in for a
 * device that does something no twin does (hostile text, chatter without
 * the protocol, a relay that holds answers). Python's pty module makes the
 * pseudo-terminal (Node has none built in); the program prints its port
 * (the slave's name) as its first line, and may print more lines after.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createInterface } from "node:readline";

export interface PtyProgram {
  child: ChildProcess;
  /** The pseudo-terminal to give the tool as its port. */
  port: string;
  /** The program's next stdout line; rejects if it exits first. */
  nextLine(): Promise<string>;
}

export async function startPtyProgram(source: string, args: readonly string[] = []): Promise<PtyProgram> {
  const child = spawn("python3", ["-c", source, ...args], { stdio: ["ignore", "pipe", "inherit"] });
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  const nextLine = () =>
    new Promise<string>((resolve, reject) => {
      child.once("error", reject);
      child.once("exit", (code) =>
        reject(new Error(`the pty program exited (${code}) before its next line`)),
      );
      lines.once("line", resolve);
    });
  const port = (await nextLine()).trim();
  return { child, port, nextLine };
}
