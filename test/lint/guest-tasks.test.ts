/**
 * Lint: services that manage guests (kvmservices, ovzservices) start tasks only through
 * ctx.startTask, which hands the call's guest hold to the task. A direct app.tasks.start would
 * let the call's guests go when it answers while the task still works on them.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';

const root = join(fileURLToPath(new URL('.', import.meta.url)), '..', '..');
const GUEST_SERVICES = ['services/kvmservices', 'services/ovzservices'];

describe('lint: guest services start tasks through ctx.startTask', () => {
  it('no tasks.start( in kvmservices or ovzservices', () => {
    const found: string[] = [];
    for (const dir of GUEST_SERVICES)
      for (const f of readdirSync(join(root, dir)).filter((n) => n.endsWith('.ts') && !n.endsWith('.test.ts'))) {
        readFileSync(join(root, dir, f), 'utf8')
          .split('\n')
          .forEach((line, i) => {
            if (/\btasks\s*\.\s*start\s*\(/.test(line)) found.push(`${dir}/${f}:${i + 1}`);
          });
      }
    expect(found).to.deep.equal([]);
  });
});
