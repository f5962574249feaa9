import { expect } from 'chai';
import { place, type Candidate } from './placement.ts';

const now = 1_800_000_000_000;
const sample = (memory: number, cpu: number, ageS = 5, reachable = true) => ({ time: now - ageS * 1000, reachable, memory, cpu, load: 0.1 });
const nodes: Candidate[] = [
  { node: 'omsnode1', tags: ['OpenNode'], sample: sample(20, 10), guests: ['web1', 'db1'] },
  { node: 'omsnode2', tags: ['OpenNode', 'ssd'], sample: sample(40, 5), guests: ['web2'] },
  { node: 'omsnode3', tags: ['OpenNode', 'ssd'], sample: sample(30, 90), guests: [] },
];
const req = { candidates: nodes, avoid: [] as string[], now, maxAgeMs: 30_000 };

describe('placement', () => {
  it('picks the node with the most free memory and idle CPU, and says why', () => {
    const p = place(req);
    expect(p.node).to.equal('omsnode1');
    expect(p.ranking.map((r) => [r.node, r.score])).to.deep.equal([['omsnode1', 84], ['omsnode2', 74], ['omsnode3', 46]]);
    expect(p.reason).to.match(/^omsnode1 has the most room \(memory 80% free, CPU 90% idle, score 84\) of 3 candidate\(s\); next omsnode2/);
  });

  it('avoid: never on the node of those guests', () => {
    const p = place({ ...req, avoid: ['db1'] });
    expect(p.node).to.equal('omsnode2');
    expect(p.excluded).to.deep.include({ node: 'omsnode1', why: 'avoid: holds db1' });
    expect(p.reason).to.contain('avoiding db1 on omsnode1');
    expect(place({ ...req, avoid: ['db1', 'web2'] }).node).to.equal('omsnode3');
    expect(place({ ...req, avoid: ['ghost'] }).reason).to.contain('avoid: ghost found on no node');
  });

  it('a tag constraint keeps only the nodes tagged so', () => {
    const p = place({ ...req, tag: 'ssd' });
    expect(p.node).to.equal('omsnode2');
    expect(p.excluded).to.deep.equal([{ node: 'omsnode1', why: 'not tagged ssd' }]);
  });

  it('a node without a recent answered sample is no candidate', () => {
    const p = place({ ...req, candidates: [{ ...nodes[0], sample: sample(1, 1, 120) }, { ...nodes[1], sample: sample(1, 1, 1, false) }, { ...nodes[2], sample: undefined }, nodes[1]] });
    expect(p.node).to.equal('omsnode2');
    expect(p.excluded.map((e) => e.why)).to.deep.equal(['last health sample 120 s old', 'unreachable in its latest health sample', 'no health sample yet']);
  });

  it('a node that cannot run the kind is left out with its reason', () => {
    const p = place({ ...req, candidates: [{ ...nodes[0], unfit: 'no libvirt (virsh)' }, nodes[2]] });
    expect(p.node).to.equal('omsnode3');
    expect(p.excluded).to.deep.equal([{ node: 'omsnode1', why: 'no libvirt (virsh)' }]);
  });

  it('nothing left: PlacementError listing why each node was left out', () => {
    try {
      place({ ...req, avoid: ['web1', 'web2'], tag: 'ssd', candidates: nodes.slice(0, 2) });
      expect.fail('placed');
    } catch (e) {
      expect((e as { omsName: string }).omsName).to.equal('PlacementError');
      expect((e as Error).message).to.equal('No node to place on: omsnode1: avoid: holds web1; omsnode2: avoid: holds web2');
    }
  });
});
