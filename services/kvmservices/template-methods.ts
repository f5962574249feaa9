/** kvmservices template methods: list, parse for a new guest, deploy, parse a guest, create from a guest. */
import { z } from 'zod';
import { method, type MethodDecl } from '../../src/rpc/declare.ts';
import { oms } from '../../src/rpc/errors.ts';
import { fileName, vmName } from '../../src/rpc/fields.ts';
import type { CallContext } from '../../src/rpc/context.ts';
import * as cmd from './commands.ts';
import { domainXml } from './domain.ts';
import { inactiveDomain, lockVmUntil, mustBeStopped, mustNotExist, nodeInfo, onNode, onVm, serverParam, vmParam } from './common.ts';
import { kvmGuest } from '../../src/locks/guest-locks.ts';
import { inDir, kvmNode, storageRun, taskNode, test, virshRun, type KvmNode } from './node.ts';
import { parseFindListing, parseQemuImgInfo, type ImageInfo } from './parse.ts';
import { child, parseXml, textOf } from './xml.ts';
import { copyDisks, type DiskCopy, type StepReport } from './image-copy.ts';
import { guestNetwork, guestNetworkParam, macForNewNic } from './nics.ts';
import {
  bareTemplateSettings,
  deployedDiskName,
  mergeSettings,
  parseTemplateJson,
  settingsFromVm,
  specFromTemplate,
  TEMPLATE_FILE,
  templateForVm,
  templatesFromListing,
  type TemplateEntry,
  type TemplateSettings,
} from './templates.ts';

const templateName = fileName;
/** Settings dictionaries: known keys are checked one by one into the per-field error result. */
const settingsDict = z.record(z.string().regex(/^[a-z_]{1,32}$/, 'not a setting name'), z.unknown());

async function listTemplates(n: KvmNode): Promise<TemplateEntry[]> {
  return templatesFromListing(parseFindListing((await storageRun(n, cmd.listDir(n.dirs.templates, 2))).stdout));
}

interface LoadedTemplate {
  settings: TemplateSettings;
  /** Paths of the template's disks on the node, in settings.disks order. */
  diskPaths: string[];
}

async function loadTemplate(n: KvmNode, name: string): Promise<LoadedTemplate> {
  const entry = (await listTemplates(n)).find((t) => t.name === name);
  if (!entry) throw oms('UnknownTemplateError', { template: name, node: n.name });
  if (entry.kind === 'file') {
    const settings = bareTemplateSettings(entry.file, entry.format, (await nodeInfo(n)).arch);
    return { settings, diskPaths: [inDir(n.dirs.templates, entry.file)] };
  }
  const dir = inDir(n.dirs.templates, name);
  const text = (await storageRun(n, cmd.readFile(inDir(dir, TEMPLATE_FILE)))).stdout;
  let settings: TemplateSettings;
  try {
    settings = parseTemplateJson(text);
  } catch (e) {
    throw oms('InvalidSettingsError', { what: `template ${name}`, reason: (e as Error).message });
  }
  return { settings, diskPaths: settings.disks.map((d) => inDir(dir, d.template_name)) };
}

async function imageInfo(n: KvmNode, path: string): Promise<ImageInfo> {
  return parseQemuImgInfo((await storageRun(n, cmd.imgInfo(path))).stdout);
}

/** The emulator libvirt picks for KVM guests on this node (domcapabilities' <path>). */
async function defaultEmulator(n: KvmNode): Promise<string> {
  return textOf(child(parseXml(await virshRun(n, cmd.virsh(n.uri, 'domcapabilities', '--virttype', 'kvm'))), 'path'));
}

async function deploy(ctx: CallContext, n: KvmNode, template: LoadedTemplate, vm: string, settings: TemplateSettings, task: StepReport): Promise<Record<string, never>> {
  await mustNotExist(n, vm);
  // Every NIC OMS defines gets a MAC no other guest on the node has (libvirt does not check).
  const mac = settings.interface ? await macForNewNic(n) : undefined;
  const made: string[] = [];
  const copies: DiskCopy[] = [];
  for (const [i, d] of settings.disks.entries()) {
    const dest = inDir(n.dirs.images, deployedDiskName(vm, d.template_name));
    if (!(await test(n, cmd.notExists(dest)))) throw oms('ImageExistsError', { image: deployedDiskName(vm, d.template_name), node: n.name });
    copies.push({ label: d.template_name, from: template.diskPaths[i], to: dest, format: d.template_format });
  }
  try {
    await copyDisks(n, copies, task, (to) => made.push(to));
    task.log(`defining guest ${vm}`);
    await virshRun(n, cmd.defineStdin(n.uri), { input: domainXml({ ...specFromTemplate(vm, settings, copies.map((c) => c.to), mac), virtType: n.virtType }) });
    task.log('done');
    return {};
  } catch (e) {
    task.log(`not finished; removing ${made.length} partial cop${made.length === 1 ? 'y' : 'ies'}`);
    for (const p of made) await n.handle.exec(cmd.removeFile(p), { okExitCodes: [0, 1] }).catch((u) => ctx.log.warn({ err: String(u) }, 'cleanup: rm failed'));
    throw e;
  }
}

function vmDisks(d: Awaited<ReturnType<typeof inactiveDomain>>) {
  return d.disks.filter((k) => k.device === 'disk' && k.source);
}

export const templateMethods: MethodDecl[] = [
  method({
    name: 'list_templates',
    description: 'KVM templates in the node\'s templates directory: directories with a template.json, and bare disk images (name without .qcow2/.img/.raw).',
    auth: 'session',
    permission: onNode('vm.view'),
    cacheable: true,
    node: 'server_hostname',
    params: [serverParam] as const,
    run: async (ctx, { server_hostname }) => (await listTemplates(kvmNode(ctx, server_hostname))).map((t) => t.name),
  }),
  method({
    name: 'parse_template_for_vm',
    description: "A template's settings as the dictionary deploy_template_for_vm takes, for a guest named kvm_vm_name.",
    auth: 'session',
    permission: onNode('vm.view'),
    cacheable: true,
    node: 'server_hostname',
    params: [serverParam, { name: 'template_name', schema: templateName }, { name: 'kvm_vm_name', schema: vmName }] as const,
    async run(ctx, { server_hostname, template_name, kvm_vm_name }) {
      const n = kvmNode(ctx, server_hostname);
      const t = await loadTemplate(n, template_name);
      const [caps, emulator] = await Promise.all([Promise.all(t.diskPaths.map((p) => imageInfo(n, p))), defaultEmulator(n)]);
      return templateForVm(template_name, kvm_vm_name, t.settings, caps.map((c) => c.virtualSize), emulator);
    },
  }),
  method({
    name: 'deploy_template_for_vm',
    description:
      'Deploys a template as a new guest (a task; this call waits): each template disk is copied to <vm>-<disk> in the images directory and the guest is defined (not started). Settings override the template\'s (memory, vcpu, features, interface, ...); when any is invalid nothing is deployed and the result holds an error per field. The NIC: settings\' `interface` when given; else the libvirt network `network` (\'\' or null: no NIC; it must exist, UnknownNetworkError); else the template\'s own NIC; else, as create_vm_from_iso, the node\'s defaultGuestNetwork, or libvirt\'s `default` network when it is active, or none (the task log says which). Its MAC is new (52:54:00). {} on success.',
    auth: 'session',
    permission: onNode('vm.create'),
    mutates: true,
    // The new guest's name, so no delete, second deploy or clone acts on it while it is made.
    lock: { summary: 'the new KVM guest kvm_name on server_hostname, until the deploy task ends', guests: (p) => [kvmGuest(p.server_hostname, p.kvm_name)] },
    node: 'server_hostname',
    params: [
      serverParam,
      { name: 'template_name', schema: templateName },
      { name: 'kvm_name', schema: vmName },
      { name: 'template_settings_dictionary', schema: settingsDict, optional: true },
      { name: 'network', schema: guestNetworkParam, optional: true, description: "libvirt network of the guest's NIC; '' or null: none; left out: the template's NIC, else the node's default" },
    ] as const,
    async run(ctx, { server_hostname, template_name, kvm_name, template_settings_dictionary, network }) {
      const n = kvmNode(ctx, server_hostname);
      const [t, info] = await Promise.all([loadTemplate(n, template_name), nodeInfo(n)]);
      const { errors, settings } = mergeSettings(t.settings, template_settings_dictionary ?? {}, info);
      if (Object.keys(errors).length) return errors;
      const said: string[] = [];
      // The settings dictionary's `interface` is the OMS way and wins; then the call's network,
      // then the template's own NIC, then the node's default (nics.ts).
      if (!Object.hasOwn(template_settings_dictionary ?? {}, 'interface') && (network !== undefined || settings.interface === null)) {
        const nic = await guestNetwork(n, network, false);
        settings.interface = nic.network === null ? null : { type: 'network', source_network: nic.network };
        said.push(nic.network === null ? `no NIC: ${nic.reason}` : `NIC on libvirt network ${nic.network}: ${nic.reason}`);
      } else said.push(settings.interface ? `NIC as the ${Object.hasOwn(template_settings_dictionary ?? {}, 'interface') ? 'settings\' interface' : 'template'} says: ${JSON.stringify(settings.interface)}` : 'no NIC: the settings\' interface is null');
      const task = ctx.startTask({ kind: 'kvm.deploy_template_for_vm', node: n.name, target: kvm_name }, (h) => {
        for (const line of said) h.log(line);
        return deploy(ctx, taskNode(ctx, n.name, h.signal), t, kvm_name, settings, h);
      });
      return task.done;
    },
  }),
  method({
    name: 'parse_vm_for_template',
    description: "A guest's settings for create_template_from_vm: vCPUs, memory (MiB), arch, NICs and each disk with its size (bytes) and the path its copy gets in the template.",
    auth: 'session',
    permission: onVm('vm.view'),
    cacheable: true,
    node: 'server_hostname',
    params: [serverParam, vmParam, { name: 'template_name', schema: templateName }] as const,
    async run(ctx, { server_hostname, kvm_vm_name, template_name }) {
      const n = kvmNode(ctx, server_hostname);
      const d = await inactiveDomain(n, kvm_vm_name);
      const disks = vmDisks(d);
      const infos = await Promise.all(disks.map((k) => imageInfo(n, k.source)));
      const memory = String(Math.floor(d.memoryKiB / 1024));
      return {
        vm_name: kvm_vm_name,
        vcpu: String(d.vcpu),
        min_vcpu: '1',
        template_name,
        interfaces: d.interfaces.map((i) => ({ source_bridge: i.source, type: i.type, mac_address: i.mac })),
        disks: disks.map((k, i) => ({
          disk_capacity: String(infos[i].virtualSize),
          new_path: inDir(inDir(n.dirs.templates, template_name), `${template_name}${i + 1}.qcow2`),
          disk_id: k.targetDev,
          filename: `${template_name}${i + 1}.qcow2`,
          file_id: `diskfile${i + 1}`,
          disk_path: k.source,
          file_size: String(infos[i].actualSize),
        })),
        domain_type: d.domainType,
        memory,
        min_memory: memory,
        arch: d.arch,
      };
    },
  }),
  method({
    name: 'create_template_from_vm',
    description:
      'Makes a template of a stopped guest (a task; this call waits): its disks are copied (qcow2) into a new directory <template_name>/ of the templates directory with a template.json of its settings, overridden by vm_settings_dictionary (memory, vcpu, arch). Invalid settings: nothing is made and the result holds an error per field. {} on success.',
    auth: 'session',
    permission: onVm('vm.create'),
    mutates: true,
    // The source's disks are read into the template: it must not start or change meanwhile.
    lock: lockVmUntil('template'),
    node: 'server_hostname',
    params: [serverParam, vmParam, { name: 'template_name', schema: templateName }, { name: 'vm_settings_dictionary', schema: settingsDict, optional: true }] as const,
    async run(ctx, { server_hostname, kvm_vm_name, template_name, vm_settings_dictionary }) {
      const n = kvmNode(ctx, server_hostname);
      const vm = kvm_vm_name;
      await mustBeStopped(n, vm, 'a template is made of a stopped guest only; stop it first');
      const [d, info] = await Promise.all([inactiveDomain(n, vm), nodeInfo(n)]);
      const disks = vmDisks(d);
      const { errors, settings } = mergeSettings(settingsFromVm(template_name, d, disks), vm_settings_dictionary ?? {}, info);
      if (Object.keys(errors).length) return errors;
      if ((await listTemplates(n)).some((t) => t.name === template_name)) throw oms('TemplateExistsError', { template: template_name, node: n.name });
      const task = ctx.startTask({ kind: 'kvm.create_template_from_vm', node: n.name, target: vm }, async (h) => {
        const tn = taskNode(ctx, n.name, h.signal);
        const dir = inDir(tn.dirs.templates, template_name);
        h.log(`making template directory ${dir}`);
        await storageRun(tn, cmd.makeDir(dir));
        try {
          // The guest must stay stopped while its disks are read; checked again inside the task.
          await mustBeStopped(tn, vm, 'a template is made of a stopped guest only; stop it first');
          await copyDisks(tn, disks.map((k, i) => ({ label: k.targetDev, from: k.source, to: inDir(dir, settings.disks[i].template_name), format: 'qcow2' })), h);
          h.log(`writing ${TEMPLATE_FILE}`);
          await storageRun(tn, cmd.writeFile(inDir(dir, TEMPLATE_FILE)), { input: JSON.stringify(settings, null, 2) + '\n' });
          h.log('done');
          return {};
        } catch (e) {
          h.log(`not finished; removing ${dir}`);
          await tn.handle.exec(cmd.removeDir(dir), { okExitCodes: [0, 1] }).catch((u) => ctx.log.warn({ err: String(u) }, 'cleanup: rm failed'));
          throw e;
        }
      });
      return task.done;
    },
  }),
];
