/**
 * OpenVZService: containers (the OpenVZ API of OMS), run on LXC through the driver in
 * lxc-driver.ts. Methods, params and results as the OMS document has them; the container's LXC
 * config on the node is the source of truth for its settings (see config.ts), templates are
 * root-filesystem tarballs in /var/lib/oms-node/templates/cache (see templates.ts).
 */
import { z } from 'zod';
import { method, service } from '../../src/rpc/declare.ts';
import { containerId, fileName, nodeName } from '../../src/rpc/fields.ts';
import { paths } from '../../src/auth/permissions.ts';
import { oms } from '../../src/rpc/errors.ts';
import { resolvConf, type CtConfig } from './config.ts';
import type { ContainerDriver, CtState } from './driver.ts';
import { detached, driverFor, locked, requireCt, viewCt } from './ct.ts';
import { container } from '../../src/locks/guest-locks.ts';
import { createTemplate, deployTemplate, listTemplates, parseTemplateForVm, parseVmForTemplate } from './deploy.ts';
import { listVms, listVmsStatus, STAT_NAMES } from './listing.ts';
import { migrate } from './migrate.ts';
import { checkSettings, showSettings } from './settings.ts';
import { containerWatcher } from './events.ts';

/** Settings dictionaries: short lower-case keys, string or number values; each value is checked per field later. */
export const settingsDict = z
  .record(z.string().regex(/^[a-z_]{1,32}$/, 'not a setting name'), z.union([z.string().max(1024), z.number().finite()]))
  .refine((o) => Object.keys(o).length <= 64, 'too many settings');

const onNode = (privilege: 'node.view' | 'vm.create') => ({ privilege, path: (p: { server_hostname: string }) => paths.node(p.server_hostname) }) as const;
const onCt = (privilege: 'vm.view' | 'vm.state' | 'vm.config' | 'vm.delete') =>
  ({ privilege, path: (p: { server_hostname: string; container_id: string }) => paths.vm(p.server_hostname, p.container_id) }) as const;

const server = { name: 'server_hostname', schema: nodeName } as const;
const ct = { name: 'container_id', schema: containerId } as const;

/** What a change to one container holds while it runs (src/locks). */
const lockCt = { summary: 'the container container_id on server_hostname', guests: (p: { server_hostname: string; container_id: string }) => [container(p.server_hostname, p.container_id)] } as const;

/** The id a deploy names in its settings, when it names a valid one (otherwise the handler picks and holds it). */
const deployId = (settings: Record<string, unknown>): string[] => {
  const r = containerId.safeParse(settings.vm_id);
  return r.success ? [r.data] : [];
};

type Lifecycle = (d: ContainerDriver, id: string, state: CtState, node: string) => Promise<void>;

/**
 * start, stop, force stop, pause, resume and delete: the same params, the container held as a
 * task while it changes (so it cannot interleave with a deploy or migration), result 0. An
 * unknown id is refused before a task row is made.
 */
const lifecycle = (name: string, description: string, privilege: 'vm.state' | 'vm.delete', act: Lifecycle) =>
  method({
    name,
    description,
    auth: 'session',
    permission: onCt(privilege),
    mutates: true,
    lock: lockCt,
    node: 'server_hostname',
    params: [server, ct] as const,
    async run(ctx, { server_hostname, container_id }) {
      const d = driverFor(detached(ctx), server_hostname);
      await requireCt(d, server_hostname, container_id);
      return locked(ctx, name.replace(/_vm$/, ''), server_hostname, container_id, async () => {
        await act(d, container_id, (await requireCt(d, server_hostname, container_id)).state, server_hostname);
        return 0;
      });
    },
  });

const mustRun = (state: CtState, vm_id: string, node: string): void => {
  if (state === 'stopped') throw oms('OpenVZNotRunningError', { vm_id, node });
};

export const ovzservices = service({
  name: 'ovzservices',
  aliases: ['ovz', 'OpenVZService', 'openvzservices'],
  description: 'OpenVZService: containers (the OpenVZ API of OMS), run on LXC.',
  envelope: 'oms',
  guests: 'ct',
  watchers: [containerWatcher],
  methods: [
    method({
      name: 'list_vms',
      description: `Containers of a node: id, name (host name), status (1 running, 0 not), tags, pools (its resource pool as a list: [] or one), network (ip on eth0) and, for each of ${STAT_NAMES.join(', ')} given as further params, stats (memory and df in KiB; cpu as percent of the container's CPUs over 1 s).`,
      auth: 'session',
      permission: onNode('node.view'),
      cacheable: true,
      node: 'server_hostname',
      params: [server, { name: 'stats', schema: z.enum(STAT_NAMES), rest: true }] as const,
      run: (ctx, { server_hostname, stats }) => listVms(ctx, driverFor(ctx, server_hostname), server_hostname, [...new Set(stats)]),
    }),
    method({
      name: 'list_vms_status',
      description: 'Container ids and their state (running, shutdown, paused), vcpu count, memory limit and use (KiB) and CPU time (ns).',
      auth: 'session',
      permission: onNode('node.view'),
      cacheable: true,
      node: 'server_hostname',
      params: [server] as const,
      run: (ctx, { server_hostname }) => listVmsStatus(ctx, driverFor(ctx, server_hostname), server_hostname),
    }),
    method({
      name: 'list_templates',
      description: 'Container templates (root-filesystem tarballs NAME.tar.gz) in the template cache of the node (setting containerTemplatesDir, default /var/lib/oms-node/templates/cache).',
      auth: 'session',
      permission: onNode('node.view'),
      cacheable: true,
      node: 'server_hostname',
      params: [server] as const,
      run: (ctx, { server_hostname }) => listTemplates(ctx, server_hostname),
    }),
    method({
      name: 'parse_vm_settings',
      description: "A container's settings with the node's bounds: vcpu, vcpulimit (percent of one CPU, 0 = none), memory and disk (MiB), ip_address, nameserver, searchdomain, onboot.",
      auth: 'session',
      permission: onCt('vm.view'),
      cacheable: true,
      node: 'server_hostname',
      params: [server, ct] as const,
      async run(ctx, { server_hostname, container_id }) {
        const v = await viewCt(driverFor(ctx, server_hostname), server_hostname, container_id);
        return showSettings(v.config, v.bounds);
      },
    }),
    method({
      name: 'update_vm_settings',
      description:
        'Changes settings; each wrong one is reported under its key in the OMS wording, the right ones are applied (cpu and memory limits at once to a running container, ip_address at next start). Result: the error dictionary, {} when all applied.',
      auth: 'session',
      permission: onCt('vm.config'),
      mutates: true,
      lock: lockCt,
      node: 'server_hostname',
      params: [server, ct, { name: 'container_settings_dictionary', schema: settingsDict }] as const,
      secretParams: ['container_settings_dictionary'],
      async run(ctx, { server_hostname, container_id, container_settings_dictionary }) {
        const d = driverFor(detached(ctx), server_hostname);
        await requireCt(d, server_hostname, container_id);
        return locked(ctx, 'update_settings', server_hostname, container_id, async () => {
          const v = await viewCt(d, server_hostname, container_id);
          const { changes, password, errors } = checkSettings(container_settings_dictionary, v.bounds);
          const next: CtConfig = { ...v.config, ...changes };
          if (Object.keys(changes).length) {
            await d.writeConfig(container_id, next, v.facts, v.text);
            if (v.info.state === 'running') await d.setLiveLimits(container_id, next, v.facts);
            if (changes.nameserver !== undefined || changes.searchdomain !== undefined) await d.writeResolvConf(container_id, resolvConf(next));
          }
          if (password !== undefined) await d.setRootPassword(container_id, password);
          return errors;
        });
      },
    }),
    lifecycle('start_vm', 'Starts a container and waits until it runs; 0. A running container is left as it is.', 'vm.state', async (d, id, state) => {
      if (state !== 'running') await d.start(id);
    }),
    lifecycle('stop_vm', 'Stops a container: its init is asked to halt, and it is killed after 10 s; 0. A stopped container is left as it is.', 'vm.state', async (d, id, state) => {
      if (state !== 'stopped') await d.stop(id);
    }),
    // Beyond the OMS document, as the comparable systems have them (DESIGN.md).
    lifecycle('force_stop_vm', 'Kills a container at once, without asking its init to halt (stop_vm asks first); 0. A stopped container is left as it is.', 'vm.state', async (d, id, state) => {
      if (state !== 'stopped') await d.kill(id);
    }),
    lifecycle('pause_vm', 'Freezes every process of a running container (cgroup freezer); its state becomes paused; 0.', 'vm.state', async (d, id, state, node) => {
      mustRun(state, id, node);
      if (state !== 'frozen') await d.freeze(id);
    }),
    lifecycle('resume_vm', 'Thaws a paused container; 0. A running container is left as it is.', 'vm.state', async (d, id, state, node) => {
      mustRun(state, id, node);
      if (state === 'frozen') await d.unfreeze(id);
    }),
    method({
      name: 'parse_template_for_vm',
      description: "A template's settings for a new container: defaults and bounds (template's, narrowed by the node's), a free vm_id.",
      auth: 'session',
      permission: onNode('node.view'),
      node: 'server_hostname',
      params: [server, { name: 'template_name', schema: fileName }, { name: 'vm_name', schema: nodeName }] as const,
      run: (ctx, { server_hostname, template_name, vm_name }) => parseTemplateForVm(ctx, server_hostname, template_name, vm_name),
    }),
    method({
      name: 'deploy_template_for_vm',
      description:
        'Creates a container (stopped) from a template with the given settings (vm_id, vcpu, vcpulimit, memory, disk, ip_address, nameserver, searchdomain, onboot, passwd), as a task the call waits for. Result: the error dictionary when settings are wrong (nothing is created), {} on success.',
      auth: 'session',
      permission: onNode('vm.create'),
      mutates: true,
      // The new container's id: named in the settings (vm_id), or else picked and held by the handler.
      lock: { summary: 'the new container settings_dictionary.vm_id (or the free id chosen) on server_hostname, until the deploy task ends', guests: (p) => deployId(p.settings_dictionary).map((id) => container(p.server_hostname, id)) },
      node: 'server_hostname',
      params: [server, { name: 'template_name', schema: fileName }, { name: 'vm_name', schema: nodeName }, { name: 'settings_dictionary', schema: settingsDict }] as const,
      secretParams: ['settings_dictionary'],
      run: (ctx, { server_hostname, template_name, vm_name, settings_dictionary }) => deployTemplate(ctx, server_hostname, template_name, vm_name, settings_dictionary),
    }),
    method({
      name: 'parse_vm_for_template',
      description: "A container's settings for making a template of it.",
      auth: 'session',
      permission: onCt('vm.view'),
      node: 'server_hostname',
      params: [server, { name: 'container_id', schema: containerId }, { name: 'template_name', schema: fileName }] as const,
      run: (ctx, { server_hostname, container_id, template_name }) => parseVmForTemplate(ctx, server_hostname, container_id, template_name),
    }),
    method({
      name: 'create_template_from_vm',
      description:
        "Packs a container's root filesystem as template NAME.tar.gz in the template cache, its settings (vcpu, vcpulimit, memory, disk and their min_/max_) in NAME.json beside it; a task the call waits for. Result: the error dictionary, {} on success.",
      auth: 'session',
      permission: onCt('vm.view'),
      mutates: true,
      // Its root filesystem is packed: it must not change, start or go away meanwhile.
      lock: lockCt,
      node: 'server_hostname',
      params: [server, ct, { name: 'template_name', schema: fileName }, { name: 'settings_dictionary', schema: settingsDict }] as const,
      async run(ctx, { server_hostname, container_id, template_name, settings_dictionary }) {
        if (!ctx.can('vm.create', paths.node(server_hostname))) throw oms('PermissionDenied', { privilege: 'vm.create', path: paths.node(server_hostname) });
        return createTemplate(ctx, server_hostname, container_id, template_name, settings_dictionary);
      },
    }),
    lifecycle('delete_vm', 'Stops a container and deletes its private area (root filesystem and config); 0.', 'vm.delete', async (d, id, state) => {
      if (state !== 'stopped') await d.stop(id);
      await d.destroy(id);
    }),
    method({
      name: 'migrate_vm',
      description:
        'Moves a container to another node (offline: a running one is stopped, copied, started on the target) as a task the call waits for; removed from the source only after the copy is verified; 0. OpenVZMigrationNotCapable when a node cannot take part.',
      auth: 'session',
      permission: { privilege: 'vm.delete', path: (p) => paths.vm(p.server1_hostname, p.container_id) },
      mutates: true,
      // Both ends: the source is copied, and nothing may make or touch the id on the target meanwhile.
      lock: { summary: 'the container container_id on server1_hostname and on server2_hostname, until the migration task ends', guests: (p) => [container(p.server1_hostname, p.container_id), container(p.server2_hostname, p.container_id)] },
      node: 'server1_hostname',
      params: [{ name: 'server1_hostname', schema: nodeName }, { name: 'container_id', schema: containerId }, { name: 'server2_hostname', schema: nodeName }] as const,
      async run(ctx, { server1_hostname, container_id, server2_hostname }) {
        if (!ctx.can('vm.create', paths.node(server2_hostname))) throw oms('PermissionDenied', { privilege: 'vm.create', path: paths.node(server2_hostname) });
        return migrate(ctx, server1_hostname, container_id, server2_hostname);
      },
    }),
  ],
});
