/** Figures the security suite reports; test/run.sh prints them above the final summary line. */
import { appendFileSync } from 'node:fs';

export function figure(name: string, value: string | number): void {
  process.stdout.write(`  figure: ${name}: ${value}\n`);
  if (process.env.OMS_TEST_FIGURES) appendFileSync(process.env.OMS_TEST_FIGURES, `${name}: ${value}\n`);
}
