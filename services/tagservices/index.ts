/** TagService: host types (level 1), groups (2) and freeform tags (3) on nodes and VMs. */
import { z } from 'zod';
import { method, service } from '../../src/rpc/declare.ts';
import { oms } from '../../src/rpc/errors.ts';
import { nodeName, tagName, vmName } from '../../src/rpc/fields.ts';
import { paths } from '../../src/auth/permissions.ts';

const level = z.union([z.literal(2), z.literal(3)]);

export const tagservices = service({
  name: 'tagservices',
  aliases: ['tags', 'TagService'],
  description: 'Tags: host types (level 1), groups (level 2) and freeform tags (level 3) on nodes and VMs.',
  envelope: 'oms',
  methods: [
    method({
      name: 'change_host_type',
      description: "Sets the host type (level-1 tag) of nodes given as `[{\"name\": host, \"type\": type}]`. All are checked before any changes; an unknown type is UnknownHostException.",
      auth: 'session',
      permission: { privilege: 'node.admin', path: () => '/nodes' },
      mutates: true,
      params: [{ name: 'hosts', schema: z.array(z.object({ name: nodeName, type: tagName }).strict()).min(1).max(1000) }] as const,
      run(ctx, { hosts }) {
        const { nodes, tags, db } = ctx.app;
        for (const h of hosts) {
          nodes.signed(h.name);
          if (tags.level(h.type) !== 1) throw oms('UnknownHostException', { type: h.type });
        }
        db.transaction(() => hosts.forEach((h) => tags.setHostType(h.name, h.type)))();
        return 0;
      },
    }),
    method({
      name: 'list_tags',
      description: 'Every tag with its level.',
      auth: 'session',
      permission: 'authenticated',
      cacheable: true,
      params: [] as const,
      run: (ctx) => ctx.app.tags.list(),
    }),
    method({
      name: 'edit_freeform_tag_name',
      description: 'Renames a freeform (level 3) tag everywhere it is used.',
      auth: 'session',
      permission: { privilege: 'node.admin', path: () => '/nodes' },
      mutates: true,
      params: [
        { name: 'old_tag_name', schema: tagName },
        { name: 'new_tag_name', schema: tagName },
      ] as const,
      run(ctx, { old_tag_name, new_tag_name }) {
        ctx.app.tags.renameFreeform(old_tag_name, new_tag_name);
        return 0;
      },
    }),
    method({
      name: 'list_node_tags',
      description: "A node's tags.",
      auth: 'session',
      permission: { privilege: 'node.view', path: (p) => paths.node(p.server_hostname) },
      params: [{ name: 'server_hostname', schema: nodeName }] as const,
      run(ctx, { server_hostname }) {
        ctx.app.nodes.signed(server_hostname);
        return ctx.app.tags.ofNode(server_hostname);
      },
    }),
    method({
      name: 'add_node_tag',
      description: 'Puts a tag (created at the given level, default 3, if new) on a node.',
      auth: 'session',
      permission: { privilege: 'node.admin', path: (p) => paths.node(p.server_hostname) },
      mutates: true,
      params: [
        { name: 'server_hostname', schema: nodeName },
        { name: 'tag', schema: tagName },
        { name: 'level', schema: level, optional: true },
      ] as const,
      run(ctx, { server_hostname, tag, level: l }) {
        ctx.app.nodes.signed(server_hostname);
        ctx.app.tags.assignNode(server_hostname, tag, l ?? 3);
        return 0;
      },
    }),
    method({
      name: 'remove_node_tag',
      description: 'Takes a group or freeform tag off a node (a host type is changed with change_host_type instead). Unused tags are dropped.',
      auth: 'session',
      permission: { privilege: 'node.admin', path: (p) => paths.node(p.server_hostname) },
      mutates: true,
      params: [
        { name: 'server_hostname', schema: nodeName },
        { name: 'tag', schema: tagName },
      ] as const,
      run(ctx, { server_hostname, tag }) {
        ctx.app.nodes.signed(server_hostname);
        if (!ctx.app.tags.unassignNode(server_hostname, tag)) throw oms('UnknownTagError', { tag });
        ctx.app.tags.prune();
        return 0;
      },
    }),
    method({
      name: 'list_vm_tags',
      description: "A VM's tags.",
      auth: 'session',
      permission: { privilege: 'vm.view', path: (p) => paths.vm(p.server_hostname, p.vm_name) },
      params: [
        { name: 'server_hostname', schema: nodeName },
        { name: 'vm_name', schema: vmName },
      ] as const,
      run(ctx, { server_hostname, vm_name }) {
        ctx.app.nodes.signed(server_hostname);
        return ctx.app.tags.ofVm(server_hostname, vm_name);
      },
    }),
    method({
      name: 'add_vm_tag',
      description: 'Puts a tag (created at the given level, default 3, if new) on a VM or container.',
      auth: 'session',
      permission: { privilege: 'vm.config', path: (p) => paths.vm(p.server_hostname, p.vm_name) },
      mutates: true,
      lock: { none: 'tags live in the gateway database; the guest is not touched' },
      params: [
        { name: 'server_hostname', schema: nodeName },
        { name: 'vm_name', schema: vmName },
        { name: 'tag', schema: tagName },
        { name: 'level', schema: level, optional: true },
      ] as const,
      run(ctx, { server_hostname, vm_name, tag, level: l }) {
        ctx.app.nodes.signed(server_hostname);
        ctx.app.tags.assignVm(server_hostname, vm_name, tag, l ?? 3);
        return 0;
      },
    }),
    method({
      name: 'remove_vm_tag',
      description: 'Takes a tag off a VM or container. Unused tags are dropped.',
      auth: 'session',
      permission: { privilege: 'vm.config', path: (p) => paths.vm(p.server_hostname, p.vm_name) },
      mutates: true,
      lock: { none: 'tags live in the gateway database; the guest is not touched' },
      params: [
        { name: 'server_hostname', schema: nodeName },
        { name: 'vm_name', schema: vmName },
        { name: 'tag', schema: tagName },
      ] as const,
      run(ctx, { server_hostname, vm_name, tag }) {
        ctx.app.nodes.signed(server_hostname);
        if (!ctx.app.tags.unassignVm(server_hostname, vm_name, tag)) throw oms('UnknownTagError', { tag });
        ctx.app.tags.prune();
        return 0;
      },
    }),
  ],
});
