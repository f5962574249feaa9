import { expect } from 'chai';
import { catalogue, oms } from './errors.ts';

describe('error catalogue', () => {
  it('has unique codes per origin', () => {
    const codes = Object.values(catalogue).map((e) => `${e.origin}:${e.code}`);
    expect(new Set(codes).size).to.equal(codes.length);
  });
  it('renders templates and keeps unknown placeholders visible', () => {
    expect(oms('UnknownNodeError', { node: 'n1' }).message).to.equal('Unknown node: n1');
    expect(oms('UnknownNodeError').message).to.equal('Unknown node: {node}');
  });
  it('includes every OMS general error name of the document', () => {
    for (const n of ['FuncManError', 'AuthError', 'ConfigurationReadError', 'DatabaseConnectionError', 'DatabaseSelectError', 'DatabaseUpdateError', 'DatabaseInsertError', 'DatabaseDeleteError', 'FuncMethodTimeoutError', 'NoFuncZabbixClientError', 'ZabbixAgentNotSupportedError'])
      expect(catalogue).to.have.property(n);
  });
});
