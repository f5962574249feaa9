/**
 * Reading a secret or a yes/no answer the way `oms login` needs: on a terminal, a prompt on
 * stderr with the typed secret not echoed; otherwise the first line of standard input (scripts
 * pipe the password or token in), so a secret never has to be an argument (visible in `ps`).
 */
import { createInterface } from 'node:readline';

export const stdinIsTty = (): boolean => Boolean(process.stdin.isTTY);

/** The first line of standard input, for scripts. */
export async function firstLine(): Promise<string | undefined> {
  const rl = createInterface({ input: process.stdin });
  for await (const line of rl) {
    rl.close();
    return line;
  }
  return undefined;
}

/** Asks on the terminal; with `secret` what is typed is not shown. */
export function ask(question: string, secret: boolean): Promise<string> {
  return new Promise((resolve) => {
    const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: true });
    if (secret) {
      const out = rl as unknown as { _writeToOutput: (s: string) => void };
      out._writeToOutput = (s: string) => {
        if (s.startsWith(question)) process.stderr.write(question);
      };
    }
    rl.question(question, (answer) => {
      rl.close();
      if (secret) process.stderr.write('\n');
      resolve(answer);
    });
  });
}
