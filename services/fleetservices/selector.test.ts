import { expect } from 'chai';
import { assertNodeSelector, matchGuest, matchNode, nodeNarrowing, parseSelector, poolNarrowing, selectsGuests, type GuestFacts } from './selector.ts';

const nodes = [
  { name: 'omsnode1', tags: ['OpenNode', 'web'] },
  { name: 'omsnode2', tags: ['OpenNode'] },
  { name: 'omsnode14', tags: ['physical', 'web'] },
];
const guests: GuestFacts[] = [
  { node: 'omsnode1', type: 'kvm', id: 'web1', name: 'web1', state: 'running', tags: ['prod'], pools: ['web'] },
  { node: 'omsnode1', type: 'kvm', id: 'db1', name: 'db1', state: 'shutdown', tags: [], pools: [] },
  { node: 'omsnode2', type: 'ct', id: '101', name: 'cache', state: 'frozen', tags: ['prod'], pools: ['web'] },
  { node: 'omsnode2', type: 'kvm', id: 'web2', name: 'web2', state: 'paused', tags: [], pools: ['db'] },
];
const nodeNames = (sel: string) => nodes.filter((n) => matchNode(parseSelector(sel), n)).map((n) => n.name);
const guestIds = (sel: string | string[]) => guests.filter((g) => matchGuest(parseSelector(sel), g)).map((g) => g.id);
const refusal = (f: () => unknown): string => {
  try {
    f();
  } catch (e) {
    return `${(e as { omsName: string }).omsName}: ${(e as Error).message}`;
  }
  return 'no error';
};

describe('fleet selector', () => {
  it('all, names (alternatives), globs and tags select nodes', () => {
    expect(nodeNames('all')).to.deep.equal(['omsnode1', 'omsnode2', 'omsnode14']);
    expect(nodeNames('*')).to.have.length(3);
    expect(nodeNames('omsnode1 omsnode2')).to.deep.equal(['omsnode1', 'omsnode2']);
    expect(nodeNames('omsnode1?')).to.deep.equal(['omsnode14']);
    expect(nodeNames('node:omsnode1,omsnode14')).to.deep.equal(['omsnode1', 'omsnode14']);
    expect(nodeNames('tag:web')).to.deep.equal(['omsnode1', 'omsnode14']);
    expect(nodeNames('tag:web tag:OpenNode')).to.deep.equal(['omsnode1', 'omsnode2', 'omsnode14']);
  });

  it('different keys all apply, and a negated term excludes', () => {
    expect(nodeNames('tag:web omsnode1*')).to.deep.equal(['omsnode1', 'omsnode14']);
    expect(nodeNames('tag:web -tag:physical')).to.deep.equal(['omsnode1']);
    expect(nodeNames('all -omsnode2')).to.deep.equal(['omsnode1', 'omsnode14']);
    expect(nodeNames('-tag:OpenNode')).to.deep.equal(['omsnode14']);
    expect(nodeNames('omsnode9')).to.deep.equal([]);
  });

  it('guests by state, type, pool, tag, node and name text', () => {
    expect(guestIds('state:running')).to.deep.equal(['web1']);
    expect(guestIds('state:stopped')).to.deep.equal(['db1']);
    expect(guestIds('state:paused')).to.deep.equal(['101', 'web2']);
    expect(guestIds('type:kvm')).to.deep.equal(['web1', 'db1', 'web2']);
    expect(guestIds('type:openvz')).to.deep.equal(['101']);
    expect(guestIds('pool:web')).to.deep.equal(['web1', '101']);
    expect(guestIds('pool:web type:kvm')).to.deep.equal(['web1']);
    expect(guestIds('tag:prod -pool:web')).to.deep.equal([]);
    expect(guestIds('node:omsnode2')).to.deep.equal(['101', 'web2']);
    expect(guestIds('web')).to.deep.equal(['web1', 'web2']);
    expect(guestIds('w*1')).to.deep.equal(['web1']);
    expect(guestIds('-web')).to.deep.equal(['db1', '101']);
    expect(guestIds('name:cache')).to.deep.equal(['101']);
    expect(guestIds(['tag:prod', 'state:paused'])).to.deep.equal(['101']);
  });

  it('refuses bad selectors with FleetSelectorError naming the term', () => {
    expect(refusal(() => parseSelector(''))).to.match(/^FleetSelectorError: .*empty/);
    expect(refusal(() => parseSelector('   '))).to.match(/^FleetSelectorError/);
    expect(refusal(() => parseSelector('color:red'))).to.match(/^FleetSelectorError: .*unknown key "color"/);
    expect(refusal(() => parseSelector('state:flying'))).to.match(/state is one of/);
    expect(refusal(() => parseSelector('type:xen'))).to.match(/type is kvm or ct/);
    expect(refusal(() => parseSelector('tag:'))).to.match(/value is missing/);
    expect(refusal(() => parseSelector('pool:a/b'))).to.match(/not a valid pool name/);
    expect(refusal(() => parseSelector('node:$(reboot)'))).to.match(/not a name or glob/);
    expect(refusal(() => parseSelector('-all'))).to.match(/cannot be negated/);
    expect(refusal(() => parseSelector(Array(65).fill('a').join(' ')))).to.match(/more than 64 terms/);
  });

  it('guest terms are refused where nodes are selected', () => {
    expect(selectsGuests(parseSelector('tag:web omsnode1'))).to.equal(false);
    expect(selectsGuests(parseSelector('pool:web'))).to.equal(true);
    expect(refusal(() => assertNodeSelector(parseSelector('all -state:running')))).to.match(/^FleetSelectorError: .*-state:running selects guests/);
  });

  it('narrows the nodes and pools to look at', () => {
    const on = nodeNarrowing(parseSelector('node:omsnode1* -node:omsnode14 state:running'))!;
    expect(['omsnode1', 'omsnode14', 'omsnode2'].filter(on)).to.deep.equal(['omsnode1']);
    expect(nodeNarrowing(parseSelector('state:running'))).to.equal(undefined);
    expect(poolNarrowing(parseSelector('pool:web pool:db -pool:x'))).to.deep.equal(['web', 'db']);
  });
});
