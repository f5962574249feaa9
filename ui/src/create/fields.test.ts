/// <reference types="mocha" />
import { expect } from 'chai';
import { fieldOf, valueOf } from './fields.ts';

describe('create form fields from a declaration', () => {
  it('classifies schemas as OpenRPC documents them', () => {
    const f = (schema: object, required = true) => fieldOf({ name: 'x', required, schema });
    expect(f({ anyOf: [{ type: 'boolean' }, { type: 'string', enum: ['0', '1', 'yes'] }] }).kind).to.equal('bool');
    expect(f({ type: 'string', enum: ['none', 'all_drives'] })).to.include({ kind: 'choice' }).and.have.deep.property('choices', ['none', 'all_drives']);
    expect(f({ type: 'array', items: { anyOf: [{ type: 'number' }, { type: 'string' }] } }).kind).to.equal('numbers');
    expect(f({ type: 'array', items: { type: 'string' } }).kind).to.equal('list');
    expect(f({ anyOf: [{ const: '' }, { anyOf: [{ type: 'number' }, { type: 'string' }] }] }).kind).to.equal('number');
    expect(f({ type: 'object' }).kind).to.equal('object');
    expect(f({ type: 'string' }).kind).to.equal('text');
    expect(f({}).kind).to.equal('text');
  });

  it('turns typed text into the values the method takes; an empty optional field is left out', () => {
    expect(valueOf({ name: 'disks', required: true, kind: 'numbers' }, '1, 2.5 ,')).to.deep.equal([1, 2.5]);
    expect(valueOf({ name: 'networks', required: true, kind: 'list' }, 'default, br0')).to.deep.equal(['default', 'br0']);
    expect(valueOf({ name: 'cmdline', required: false, kind: 'text' }, ' ')).to.equal(undefined);
    expect(valueOf({ name: 'name', required: true, kind: 'text' }, '')).to.equal('');
    expect(valueOf({ name: 'console', required: false, kind: 'bool' }, true)).to.equal(true);
  });
});
