import { expect } from 'chai';
import { isOmsError } from '../../src/rpc/errors.ts';
import { checkBridgeGateway, checkGateway, checkHostAddress, checkRouteDestination, contains, maskOf, networkOf, prefixOf } from './addr.ts';

const refused = (f: () => unknown): string => {
  try {
    f();
  } catch (e) {
    if (isOmsError(e) && e.omsName === 'ParameterMismatch') return e.message;
    throw e;
  }
  throw new Error('expected ParameterMismatch');
};

describe('netinterfaceservices/addr', () => {
  it('converts netmasks and prefixes both ways', () => {
    for (let p = 0; p <= 32; p++) expect(prefixOf(maskOf(p))).to.equal(p);
    expect(maskOf(24)).to.equal('255.255.255.0');
    expect(maskOf(25)).to.equal('255.255.255.128');
    expect(maskOf(0)).to.equal('0.0.0.0');
    expect(networkOf('10.213.250.77', 26)).to.equal('10.213.250.64');
    expect(contains('10.213.7.0', 24, '10.213.7.1')).to.equal(true);
    expect(contains('10.213.7.0', 25, '10.213.7.200')).to.equal(false);
    expect(contains('0.0.0.0', 0, '203.0.113.9')).to.equal(true);
  });

  it('route destinations: network addresses only, not default, loopback or multicast', () => {
    expect(checkRouteDestination('10.213.250.0', '255.255.255.0')).to.equal(24);
    expect(checkRouteDestination('10.213.250.5', '255.255.255.255')).to.equal(32);
    expect(refused(() => checkRouteDestination('10.213.250.1', '255.255.255.0'))).to.match(/host bits/);
    expect(refused(() => checkRouteDestination('0.0.0.0', '0.0.0.0'))).to.match(/edit_static_gateway/);
    expect(refused(() => checkRouteDestination('127.0.0.0', '255.0.0.0'))).to.match(/loopback/);
    expect(refused(() => checkRouteDestination('224.0.0.0', '240.0.0.0'))).to.match(/multicast/);
  });

  it('gateways: 0.0.0.0 is none; special addresses refused', () => {
    expect(checkGateway('0.0.0.0')).to.equal(undefined);
    expect(checkGateway('10.213.250.254')).to.equal('10.213.250.254');
    for (const g of ['127.0.0.1', '255.255.255.255', '239.1.1.1', '0.1.2.3']) refused(() => checkGateway(g));
    // Documentation and benchmarking networks are ordinary hosts here (ipaddr.js files them as reserved).
    for (const g of ['192.0.2.10', '198.51.100.1', '203.0.113.9', '198.18.0.1', '223.255.255.254']) expect(checkGateway(g)).to.equal(g);
  });

  it('interface addresses: not the network or broadcast address (except /31 and /32)', () => {
    expect(checkHostAddress('10.213.250.1', '255.255.255.0')).to.equal(24);
    expect(refused(() => checkHostAddress('10.213.250.0', '255.255.255.0'))).to.match(/network address/);
    expect(refused(() => checkHostAddress('10.213.250.255', '255.255.255.0'))).to.match(/broadcast/);
    expect(checkHostAddress('10.213.250.0', '255.255.255.254')).to.equal(31);
    expect(checkHostAddress('10.213.250.9', '255.255.255.255')).to.equal(32);
    refused(() => checkHostAddress('10.213.250.1', '0.0.0.0'));
    expect(refused(() => checkHostAddress('10.213.250.127', '255.255.255.128'))).to.match(/broadcast/);
    expect(refused(() => checkHostAddress('10.213.250.128', '255.255.255.128'))).to.match(/network address/);
    expect(checkHostAddress('10.213.250.126', '255.255.255.252')).to.equal(30);
  });

  it('bridge gateways: none, or another host of the subnet', () => {
    expect(checkBridgeGateway('', '10.213.250.1', 24)).to.equal(undefined);
    expect(checkBridgeGateway('0.0.0.0', '10.213.250.1', 24)).to.equal(undefined);
    expect(checkBridgeGateway('10.213.250.254', '10.213.250.1', 24)).to.equal('10.213.250.254');
    expect(refused(() => checkBridgeGateway('10.213.251.1', '10.213.250.1', 24))).to.match(/not in 10.213.250.0\/24/);
    expect(refused(() => checkBridgeGateway('10.213.250.1', '10.213.250.1', 24))).to.match(/own address/);
  });
});
