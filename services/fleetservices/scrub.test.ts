import { expect } from 'chai';
import { scrub } from './scrub.ts';

describe('fleet results: secrets taken out', () => {
  it('redacts secret-named keys at any depth, keeps the rest and nulls', () => {
    expect(scrub({ task_id: 't1', name: 'web1-clone-1', vnc_password: 'abcd1234' })).to.deep.equal({ task_id: 't1', name: 'web1-clone-1', vnc_password: '[redacted]' });
    expect(scrub([{ a: { token: 'x', ticket: 'y', passwd: 'z', private_key: 'k', ok: 1 } }, 'plain'])).to.deep.equal([{ a: { token: '[redacted]', ticket: '[redacted]', passwd: '[redacted]', private_key: '[redacted]', ok: 1 } }, 'plain']);
    expect(scrub({ vnc_password: null, state: 'RUNNING' })).to.deep.equal({ vnc_password: null, state: 'RUNNING' });
    expect(scrub(0)).to.equal(0);
  });
});
