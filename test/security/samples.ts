/** Valid sample values for declared params, so a test can isolate one param or the permission check. */
import type { ParamDecl } from '../../src/rpc/declare.ts';

export function sampleFor(p: ParamDecl, node: string): unknown {
  const candidates: unknown[] = [node, 'omsfuzz0', 'omsfuzz0.iso', '9999', 9999, 'memory', 'lxcbr0', '10.213.250.0', '255.255.255.0', '10.213.7.1', 'OpenNode', 'all_drives', 1, 0, true, false, [node], ['omsfuzz0'], {}, [], '/', 'user', 'Operator', [{ name: node, type: 'OpenNode' }], 'omsfuzz0.qcow2', 64, 128, 1024, 'vda', 'hdc', 'linux', 'generic', 'virtio', 'bridge', '52:54:00:12:34:56', 'http://10.213.7.1/omsfuzz0.iso', 'on', 'off', '', [1], 'STOPPED', 'image', '0:1', { memory_mib: 64 }, [{ kind: 'kvm', node, guest: 'omsfuzz0' }]];
  for (const c of candidates) if (p.schema.safeParse(c).success) return p.rest ? [c] : c;
  return undefined;
}
