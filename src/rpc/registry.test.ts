import { expect } from 'chai';
import { z } from 'zod';
import { allServices } from '../../services/index.ts';
import { kvmGuest } from '../locks/guest-locks.ts';
import { method, service, type MethodDecl, type ServiceDecl } from './declare.ts';
import { containerId, nodeName, vmName } from './fields.ts';
import { Registry } from './registry.ts';

const svc = (methods: MethodDecl[], extra: Partial<ServiceDecl> = {}) => service({ name: 'locktest', description: 't', envelope: 'oms', methods, ...extra });
const change = (extra: Partial<MethodDecl>, params = [{ name: 'node', schema: nodeName }, { name: 'vm', schema: vmName }] as const) =>
  method({ name: 'change_vm', description: 't', auth: 'session', permission: 'authenticated', mutates: true, params, run: () => 0, ...(extra as object) });

describe('registry: every mutating guest method declares its guest lock', () => {
  it('refuses a mutating method with a guest param (VM name or container id) and no lock', () => {
    expect(() => new Registry([svc([change({})])])).to.throw(/locktest\.change_vm mutates guest param vm but declares no lock/);
    const ct = change({}, [{ name: 'node', schema: nodeName }, { name: 'ct', schema: containerId }] as never);
    expect(() => new Registry([svc([ct])])).to.throw(/mutates guest param ct but declares no lock/);
  });

  it('refuses a mutating method of a guest service even when its param is not a shared guest field', () => {
    const m = change({}, [{ name: 'node', schema: nodeName }, { name: 'name', schema: z.string() }] as never);
    expect(() => new Registry([svc([m], { guests: 'kvm' })])).to.throw(/mutates a kvm service but declares no lock/);
    expect(() => new Registry([svc([m])])).to.not.throw();
  });

  it('accepts guests or a reason for none; refuses an empty reason and a lock on a read', () => {
    const guests = { summary: 'vm on node', guests: (p: { node: string; vm: string }) => [kvmGuest(p.node, p.vm)] };
    expect(() => new Registry([svc([change({ lock: guests as never })], { guests: 'kvm' })])).to.not.throw();
    expect(() => new Registry([svc([change({ lock: { none: 'only a tag in the gateway database' } })])])).to.not.throw();
    expect(() => new Registry([svc([change({ lock: { none: ' ' } })])])).to.throw(/lock.none needs the reason/);
    expect(() => new Registry([svc([change({ lock: guests as never, mutates: false })])])).to.throw(/declares a guest lock but does not mutate/);
  });

  it('every mutating method of kvmservices and ovzservices holds guests or says why not', () => {
    const r = new Registry(allServices({ qooxdooTestService: false }));
    const decl = (s: string, m: string) => r.resolve(s, m).method;
    for (const s of r.services().filter((x) => x.guests))
      for (const m of s.methods.filter((x) => x.mutates)) expect(m.lock, `${s.name}.${m.name}`).to.not.equal(undefined);
    const held = (s: string, m: string, p: object) => {
      const l = decl(s, m).lock!;
      return 'guests' in l ? l.guests(p as never).map((g) => `${g.kind}:${g.node}/${g.name}`) : l.none;
    };
    const vm = { server_hostname: 'n1', kvm_vm_name: 'a' };
    for (const m of ['start_vm', 'stop_vm', 'destroy_vm', 'pause_vm', 'resume_vm', 'reboot_vm', 'reset_vm', 'shutdown_vm', 'delete_vm', 'delete_vm_recursive', 'update_vm_settings', 'set_autostart', 'attach_disk', 'detach_disk', 'attach_nic', 'detach_nic', 'create_template_from_vm', 'create_vm_from_iso'])
      expect(held('kvmservices', m, vm), m).to.deep.equal(['kvm:n1/a']);
    expect(held('kvmservices', 'clone_vm', { ...vm, new_name: 'b' })).to.deep.equal(['kvm:n1/a', 'kvm:n1/b']);
    expect(held('kvmservices', 'edit_vm', { ...vm, settings: { name: 'b' } })).to.deep.equal(['kvm:n1/a', 'kvm:n1/b']);
    expect(held('kvmservices', 'edit_vm', { ...vm, settings: { cpus: 2 } })).to.deep.equal(['kvm:n1/a']);
    expect(held('kvmservices', 'deploy_template_for_vm', { server_hostname: 'n1', kvm_name: 'c' })).to.deep.equal(['kvm:n1/c']);
    const ct = { server_hostname: 'n1', container_id: '101' };
    for (const m of ['start_vm', 'stop_vm', 'force_stop_vm', 'pause_vm', 'resume_vm', 'delete_vm', 'update_vm_settings', 'create_template_from_vm'])
      expect(held('ovzservices', m, ct), m).to.deep.equal(['ct:n1/101']);
    expect(held('ovzservices', 'migrate_vm', { server1_hostname: 'n1', container_id: '101', server2_hostname: 'n2' })).to.deep.equal(['ct:n1/101', 'ct:n2/101']);
    expect(held('ovzservices', 'deploy_template_for_vm', { server_hostname: 'n1', settings_dictionary: { vm_id: 102 } })).to.deep.equal(['ct:n1/102']);
    expect(held('ovzservices', 'deploy_template_for_vm', { server_hostname: 'n1', settings_dictionary: {} })).to.deep.equal([]);
  });
});
