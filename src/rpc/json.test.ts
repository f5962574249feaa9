import { expect } from 'chai';
import { parseRequestBody, rewriteQooxdooDates } from './json.ts';
import { OmsError } from './errors.ts';

describe('request JSON', () => {
  it('turns qooxdoo date literals into ISO strings, outside strings only', () => {
    expect(rewriteQooxdooDates('[new Date(Date.UTC(2006,5,20,22,18,42,223)), "new Date(Date.UTC(1,2))"]')).to.equal('["2006-06-20T22:18:42.223Z", "new Date(Date.UTC(1,2))"]');
    expect(parseRequestBody('{"a": new Date( Date.UTC( 2020 , 0 , 1 ) )}')).to.deep.equal({ a: '2020-01-01T00:00:00.000Z' });
  });

  it('keeps escaped quotes inside strings intact', () => {
    expect(parseRequestBody('["a\\"new Date(Date.UTC(1,2))", new Date(Date.UTC(2000,0,1))]')).to.deep.equal(['a"new Date(Date.UTC(1,2))', '2000-01-01T00:00:00.000Z']);
  });

  it('refuses invalid UTF-8, invalid JSON and deep nesting with ParseError', () => {
    const cases: (string | Buffer)[] = [Buffer.from([0x5b, 0xff, 0x5d]), '{"a":', '['.repeat(100) + ']'.repeat(100), 'new Date(Date.UTC(x))'];
    for (const c of cases) {
      try {
        parseRequestBody(c);
        expect.fail(`accepted ${String(c).slice(0, 20)}`);
      } catch (e) {
        expect(e).to.be.instanceOf(OmsError);
        expect((e as OmsError).omsName).to.equal('ParseError');
      }
    }
  });

  it('brackets inside strings do not count as nesting', () => {
    expect(parseRequestBody(JSON.stringify(['['.repeat(200)]))).to.deep.equal(['['.repeat(200)]);
  });
});
