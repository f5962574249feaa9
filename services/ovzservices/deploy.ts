/** Templates both ways: deploy a template as a container, and pack a container as a template. */
import type { CallContext } from '../../src/rpc/context.ts';
import { isOmsError, oms } from '../../src/rpc/errors.ts';
import { containerId } from '../../src/rpc/fields.ts';
import type { CtConfig } from './config.ts';
import { resolvConf } from './config.ts';
import { checkCancelled, detached, driverFor, nextFreeId, viewCt } from './ct.ts';
import * as cmd from './lxc-commands.ts';
import { parseTemplateList } from './parse.ts';
import { checkSettings, MESSAGES, narrow, nodeBounds, type Bounds, type SettingsInput } from './settings.ts';
import { metaOf, parseMeta, renderMeta, tarballOf, templateBounds, type TemplateMeta } from './templates.ts';
import { nodeDirs } from '../../src/fleet/dirs.ts';
import type { NodeHandle } from '../../src/fleet/access.ts';
import { container } from '../../src/locks/guest-locks.ts';

/** The node's container template cache (setting containerTemplatesDir). */
const cacheOf = (n: NodeHandle): string => nodeDirs(n.settings).containerTemplates;

async function readTemplate(ctx: CallContext, node: string, name: string): Promise<TemplateMeta> {
  const n = ctx.node(node);
  const dir = cacheOf(n);
  if ((await n.exec(cmd.fileExists(tarballOf(name, dir)), { okExitCodes: [0, 1] })).code !== 0) throw oms('OpenVZUnknownTemplateError', { template: name, node });
  const meta = await n.exec(cmd.readOptional(metaOf(name, dir)), { okExitCodes: [0, 1] });
  return parseMeta(meta.code === 0 ? meta.stdout : undefined);
}

export async function listTemplates(ctx: CallContext, node: string): Promise<string[]> {
  const n = ctx.node(node);
  const r = await n.exec(cmd.listTemplates(cacheOf(n)), { okExitCodes: [0, 1] });
  // find exits 1 when the cache directory does not exist yet: no templates.
  return r.code === 0 ? parseTemplateList(r.stdout) : [];
}

async function templateView(ctx: CallContext, node: string, name: string): Promise<{ meta: TemplateMeta; bounds: Bounds; used: string[] }> {
  const d = driverFor(ctx, node);
  const [meta, facts, used] = await Promise.all([readTemplate(ctx, node, name), d.facts(), d.list()]);
  return { meta, bounds: narrow(nodeBounds(facts), templateBounds(meta)), used };
}

export async function parseTemplateForVm(ctx: CallContext, node: string, template: string, vmName: string): Promise<Record<string, string>> {
  const { meta, bounds, used } = await templateView(ctx, node, template);
  const clamp = (k: keyof Bounds) => String(Math.min(Math.max(meta[k], bounds[k][0]), bounds[k][1]));
  return {
    template_name: template,
    vm_name: vmName,
    vm_id: nextFreeId(used),
    domain_type: 'openvz',
    memory: clamp('memory'),
    min_memory: String(bounds.memory[0]),
    max_memory: String(bounds.memory[1]),
    vcpu: clamp('vcpu'),
    min_vcpu: String(bounds.vcpu[0]),
    max_vcpu: String(bounds.vcpu[1]),
    vcpulimit: clamp('vcpulimit'),
    min_vcpulimit: String(bounds.vcpulimit[0]),
    max_vcpulimit: String(bounds.vcpulimit[1]),
    disk: clamp('disk'),
    min_disk: String(bounds.disk[0]),
    max_disk: String(bounds.disk[1]),
    ip_address: '',
    nameserver: '',
    passwd: '',
  };
}

/**
 * Checks the settings and, when all are right, creates the container as a task (the OMS call
 * waits for it). Result: the error dictionary, empty on success. `passwd` "" (as
 * parse_template_for_vm returns it) means "leave root's password as the template has it".
 */
export async function deployTemplate(ctx: CallContext, node: string, template: string, vmName: string, input: SettingsInput): Promise<Record<string, string>> {
  const { meta, bounds, used } = await templateView(ctx, node, template);
  const settings = { ...input };
  if (settings.passwd === '') delete settings.passwd;
  if (settings.ip_address === '') delete settings.ip_address;
  if (settings.nameserver === '') delete settings.nameserver;
  const { changes, password, errors } = checkSettings(settings, bounds);
  let id = nextFreeId(used);
  if (input.vm_id !== undefined) {
    const parsed = containerId.safeParse(input.vm_id);
    if (!parsed.success) errors.vm_id = 'Container ID not correct';
    else if (used.includes(parsed.data)) errors.vm_id = 'Container ID already in use';
    else id = parsed.data;
  }
  const clamp = (k: keyof Bounds) => Math.min(Math.max(meta[k], bounds[k][0]), bounds[k][1]);
  const config: CtConfig = {
    id,
    name: vmName,
    vcpu: changes.vcpu ?? clamp('vcpu'),
    vcpulimit: changes.vcpulimit ?? clamp('vcpulimit'),
    memory: changes.memory ?? clamp('memory'),
    disk: changes.disk ?? clamp('disk'),
    ...(changes.ip_address ? { ip_address: changes.ip_address } : {}),
    ...(changes.nameserver ? { nameserver: changes.nameserver } : {}),
    ...(changes.searchdomain ? { searchdomain: changes.searchdomain } : {}),
    onboot: changes.onboot ?? false,
    template,
    haltSignal: meta.halt_signal,
  };
  if (Object.keys(errors).length) return errors;

  const dctx = detached(ctx);
  const cache = cacheOf(ctx.node(node));
  // Held already when the settings named vm_id (declared lock); a free id picked here is held now.
  await ctx.lockGuests([container(node, id)]);
  const task = ctx.startTask({ kind: 'ovz.deploy', node, target: id }, async (t) => {
    const d = driverFor(dctx, node);
    const facts = await d.facts();
    t.log(`extracting template ${template} into container ${id}`);
    t.progress(0, 4);
    await d.createFromTarball(id, tarballOf(template, cache));
    try {
      t.progress(2, 4);
      checkCancelled(t);
      await d.writeConfig(id, config, facts, '');
      const resolv = resolvConf(config);
      if (resolv) await d.writeResolvConf(id, resolv);
      if (password !== undefined) await d.setRootPassword(id, password);
      // Disk is not a kernel limit here (no quota on the container filesystem): refuse a
      // template that does not even fit the size asked for.
      const usedMiB = await d.diskUsageMiB(id);
      if (usedMiB > config.disk) throw oms('OpenVZDeployError', { template, vm_id: id, node, reason: `the template needs ${usedMiB} MiB, more than disk ${config.disk} MiB` });
      t.progress(4, 4);
    } catch (e) {
      t.log('deploy failed, removing the half-made container');
      await d.discard(id);
      throw e;
    }
    return id;
  });
  await task.done;
  return {};
}

export async function parseVmForTemplate(ctx: CallContext, node: string, id: string, template: string): Promise<Record<string, string>> {
  const v = await viewCt(driverFor(ctx, node), node, id);
  return {
    vm_id: id,
    template_name: template,
    domain_type: 'openvz',
    vcpu: String(v.config.vcpu),
    min_vcpu: String(v.bounds.vcpu[0]),
    vcpulimit: String(v.config.vcpulimit),
    memory: String(v.config.memory),
    min_memory: String(v.bounds.memory[0]),
    disk: String(v.config.disk),
    min_disk: String(Math.max(v.bounds.disk[0], v.diskUsedMiB)),
  };
}

const TEMPLATE_KEYS = ['vcpu', 'vcpulimit', 'memory', 'disk'] as const;

/** Packs the container's root filesystem into the template cache, with its settings beside it. */
export async function createTemplate(ctx: CallContext, node: string, id: string, template: string, input: SettingsInput): Promise<Record<string, string>> {
  const dctx = detached(ctx);
  const d = driverFor(dctx, node);
  const v = await viewCt(d, node, id);
  const errors: Record<string, string> = {};
  const meta: TemplateMeta = { memory: v.config.memory, vcpu: v.config.vcpu, vcpulimit: v.config.vcpulimit, disk: Math.max(v.config.disk, v.diskUsedMiB), halt_signal: v.config.haltSignal, min_disk: v.diskUsedMiB };
  for (const [key, value] of Object.entries(input)) {
    const m = /^(min_|max_)?(vcpu|vcpulimit|memory|disk)$/.exec(key);
    if (!m) {
      if (!['vm_id', 'template_name', 'domain_type'].includes(key)) errors[key] = MESSAGES.unknown;
      continue;
    }
    const base = m[2] as (typeof TEMPLATE_KEYS)[number];
    const checked = checkSettings({ [base]: value }, v.bounds);
    if (checked.errors[base]) errors[key] = checked.errors[base];
    else (meta as unknown as Record<string, number>)[key] = checked.changes[base] as number;
  }
  if (meta.min_disk !== undefined && meta.min_disk < v.diskUsedMiB) errors.min_disk = MESSAGES.disk;
  if (Object.keys(errors).length) return errors;
  const n = dctx.node(node);
  const cache = cacheOf(n);
  const tarball = tarballOf(template, cache);
  const metaFile = metaOf(template, cache);
  if ((await n.exec(cmd.fileExists(tarball), { okExitCodes: [0, 1] })).code === 0) throw oms('OpenVZTemplateExistsError', { template, node });

  const task = ctx.startTask({ kind: 'ovz.create_template', node, target: id }, async (t) => {
    await n.exec(cmd.makeDir(cache));
    t.log(`packing container ${id} into ${tarball}`);
    try {
      await d.exportToTarball(id, tarball);
      await n.exec(cmd.writeFile(metaFile), { input: renderMeta(meta) });
    } catch (e) {
      await n.exec(cmd.removeFile(tarball));
      await n.exec(cmd.removeFile(metaFile));
      throw isOmsError(e) && e.omsName === 'NodeCommandError' ? oms('OpenVZTemplateCreateError', { template, vm_id: id, node, reason: String(e.vars.stderr ?? '').slice(0, 300) }) : e;
    }
    return template;
  });
  await task.done;
  return {};
}
