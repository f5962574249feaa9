import { expect } from 'chai';
import { matches, parseFilter, tokens, type Filterable } from './filter.ts';

const row = (over: Partial<Filterable>): Filterable => ({ name: 'web1', id: 'web1', node: 'omsnode1', type: 'kvm', state: 'running', tags: [], ips: [], ...over });
const rows: Filterable[] = [
  row({ name: 'web1', node: 'omsnode1', state: 'running', tags: ['prod'] }),
  row({ name: 'web2', id: 'web2', node: 'omsnode2', state: 'stopped', tags: ['prod', 'eu'] }),
  row({ name: 'db1', id: 'db1', node: 'omsnode2', state: 'running', tags: ['db'] }),
  row({ name: 'ct-a', id: '101', node: 'omsnode3', type: 'container', state: 'paused', ips: ['10.0.0.5'] }),
  row({ name: 'web10', id: 'web10', node: 'omsnode10', state: 'running' }),
];
const names = (text: string) => rows.filter((r) => matches(parseFilter(text), r)).map((r) => r.name);

describe('guest list filter', () => {
  it('splits on spaces and keeps quoted parts together', () => {
    expect(tokens('  a  "b c" tag:"x y" -"d e" ')).to.deep.equal(['a', 'b c', 'tag:x y', '-d e']);
    expect(tokens('')).to.deep.equal([]);
  });

  it('an empty filter keeps every row', () => {
    expect(names('')).to.have.length(rows.length);
  });

  it('state:running -node:omsnode1 keeps running guests of every other node (omsnode10 is not omsnode1)', () => {
    expect(names('state:running -node:omsnode1')).to.deep.equal(['db1', 'web10']);
  });

  it('node: matches the whole name, case-insensitively, * as a wildcard', () => {
    expect(names('node:OMSNODE1')).to.deep.equal(['web1']);
    expect(names('node:omsnode1*')).to.deep.equal(['web1', 'web10']);
  });

  it('state words an operator types: shutdown and shutoff are stopped, frozen is paused', () => {
    expect(names('state:shutdown')).to.deep.equal(['web2']);
    expect(names('state:shutoff')).to.deep.equal(['web2']);
    expect(names('state:frozen')).to.deep.equal(['ct-a']);
    expect(names('-state:running')).to.deep.equal(['web2', 'ct-a']);
  });

  it('type: kvm or container (ct, lxc, openvz)', () => {
    expect(names('type:container')).to.deep.equal(['ct-a']);
    expect(names('type:lxc')).to.deep.equal(['ct-a']);
    expect(names('-type:kvm')).to.deep.equal(['ct-a']);
  });

  it('tag: and its negation', () => {
    expect(names('tag:prod')).to.deep.equal(['web1', 'web2']);
    expect(names('tag:prod -tag:eu')).to.deep.equal(['web1']);
  });

  it('same key: alternatives; different keys: all must hold; commas list alternatives', () => {
    expect(names('node:omsnode1 node:omsnode3')).to.deep.equal(['web1', 'ct-a']);
    expect(names('node:omsnode2 state:running')).to.deep.equal(['db1']);
    expect(names('state:running,paused node:omsnode2,omsnode3')).to.deep.equal(['db1', 'ct-a']);
  });

  it('free text is a substring of name, id or IP; every word must hold; -word excludes', () => {
    expect(names('web')).to.deep.equal(['web1', 'web2', 'web10']);
    expect(names('WEB 1')).to.deep.equal(['web1', 'web10']);
    expect(names('101')).to.deep.equal(['ct-a']);
    expect(names('10.0.0')).to.deep.equal(['ct-a']);
    expect(names('web -web1')).to.deep.equal(['web2']);
  });

  it('says what it does not understand, and a lone - is text', () => {
    expect(parseFilter('color:red').problems).to.deep.equal(['unknown filter color: (node:, tag:, state:, type:)']);
    expect(parseFilter('state:sleeping').problems[0]).to.match(/^unknown state sleeping/);
    expect(parseFilter('type:bsd').problems[0]).to.match(/^unknown type bsd/);
    expect(parseFilter('node:').problems).to.deep.equal(['node: needs a value']);
    expect(parseFilter('-').terms).to.deep.equal([{ key: 'text', values: ['-'], negated: false }]);
    expect(parseFilter('state:running').problems).to.deep.equal([]);
  });
});
