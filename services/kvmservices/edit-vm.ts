/**
 * edit_vm's work (the declaration is in manage.ts): cpus, memory and name as before, plus meta
 * (key/value in the guest's own definition, meta.ts) and tags (the gateway's tag store, the same
 * one tagservices and list_vms use: one source of truth). A running guest takes meta and tags,
 * and cpus and memory up to the maximum it was started with; the rest is refused naming the
 * field (edit.ts), before anything changes.
 */
import { z } from 'zod';
import { oms } from '../../src/rpc/errors.ts';
import { tagName, vmName } from '../../src/rpc/fields.ts';
import type { CallContext } from '../../src/rpc/context.ts';
import * as cmd from './commands.ts';
import * as dev from './device-commands.ts';
import { domState, inactiveDomain, isStopped, mustNotExist, nodeInfo } from './common.ts';
import { liveLimits, runningRefusals } from './edit.ts';
import { META_NS, META_PREFIX, metaSchema, metaXml } from './meta.ts';
import { kvmNode, virshRun } from './node.ts';
import { checkMemory, checkVcpu } from './settings.ts';

export const MAX_VM_TAGS = 32;

export const editSettings = z
  .object({
    cpus: z.union([z.string().max(12), z.number()]).optional(),
    memory: z.union([z.string().max(12), z.number()]).optional(),
    name: vmName.optional(),
    /** The whole meta: replaces what the guest had; {} clears it. */
    meta: metaSchema.optional(),
    /** The whole tag list: replaces the guest's tags; [] clears them. */
    tags: z.array(tagName).max(MAX_VM_TAGS).optional(),
  })
  .strict();

export type EditSettings = z.output<typeof editSettings>;

/** Makes the guest's tags exactly `tags` (new ones are freeform, level 3), in one transaction. */
function setVmTags(ctx: CallContext, node: string, vm: string, tags: string[]): void {
  const store = ctx.app.tags;
  ctx.app.db.transaction(() => {
    const have = store.ofVm(node, vm).map((t) => t.tag);
    for (const t of have) if (!tags.includes(t)) store.unassignVm(node, vm, t);
    for (const t of tags) if (!have.includes(t)) store.assignVm(node, vm, t, 3);
  })();
  store.prune();
}

export async function editVm(ctx: CallContext, server: string, vm: string, settings: EditSettings): Promise<0> {
  const n = kvmNode(ctx, server);
  const state = await domState(n, vm);
  const running = !isStopped(state);
  const info = await nodeInfo(n);
  const cpus = settings.cpus === undefined ? undefined : checkVcpu(settings.cpus, info);
  const mem = settings.memory === undefined ? undefined : checkMemory(settings.memory, info);
  const tags = settings.tags === undefined ? undefined : [...new Set(settings.tags)];
  const hostType = tags?.find((t) => ctx.app.tags.level(t) === 1);
  const bad = [typeof cpus === 'string' ? `cpus: ${cpus}` : '', typeof mem === 'string' ? `memory: ${mem}` : '', hostType ? `tags: ${hostType} is a host type (level 1), not a guest tag` : ''].filter(Boolean);
  if (bad.length) throw oms('InvalidSettingsError', { what: vm, reason: bad.join('; ') });
  const rename = settings.name !== undefined && settings.name !== vm ? settings.name : undefined;
  const want = { cpus: cpus as number | undefined, memory: mem as number | undefined, rename };
  if (running) {
    const refused = runningRefusals(want, liveLimits(await virshRun(n, cmd.dumpxml(n.uri, vm), { vm })));
    if (refused.length) throw oms('VmStateError', { vm, node: n.name, state, reason: refused.join('; ') });
  }
  if (rename) await mustNotExist(n, rename);

  if (settings.meta !== undefined) {
    const where = { config: true, live: running };
    if (Object.keys(settings.meta).length) await virshRun(n, dev.metadataSet(n.uri, vm, META_NS, META_PREFIX, metaXml(settings.meta), where), { vm });
    else await virshRun(n, dev.metadataRemove(n.uri, vm, META_NS, where), { vm });
  }
  if (running) {
    if (want.cpus !== undefined) await virshRun(n, dev.setVcpusLive(n.uri, vm, want.cpus), { vm });
    if (want.memory !== undefined) await virshRun(n, dev.setMemLive(n.uri, vm, want.memory), { vm });
  } else {
    if (want.cpus !== undefined) {
      await virshRun(n, cmd.setVcpusMax(n.uri, vm, want.cpus), { vm });
      await virshRun(n, cmd.setVcpus(n.uri, vm, want.cpus), { vm });
    }
    if (want.memory !== undefined) {
      const d = await inactiveDomain(n, vm);
      const grow = want.memory * 1024 > d.memoryKiB;
      if (grow) await virshRun(n, cmd.setMaxMem(n.uri, vm, want.memory), { vm });
      await virshRun(n, cmd.setMem(n.uri, vm, want.memory), { vm });
      if (!grow) await virshRun(n, cmd.setMaxMem(n.uri, vm, want.memory), { vm });
    }
    if (rename) await virshRun(n, cmd.domrename(n.uri, vm, rename), { vm });
  }
  if (tags) setVmTags(ctx, n.name, rename ?? vm, tags);
  return 0;
}
