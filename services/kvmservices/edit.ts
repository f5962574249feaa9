/**
 * edit_vm's rules for a running guest, after CloudSigma ("if a server is running, only name,
 * meta and tags can change"), narrowed to what libvirt really changes live: meta and tags
 * always; vCPUs and memory up to the maximum the guest was started with (hot-plug, balloon);
 * the name never (libvirt renames a stopped guest only). Everything else is refused, before
 * anything is changed, with a reason naming the field. Pure: no I/O, no state.
 */
import { attr, child, parseXml, textOf } from './xml.ts';

export interface LiveLimits {
  /** `<vcpu>`: the most vCPUs the running guest can have. */
  maxVcpus: number;
  /** `<memory>`: the most memory (KiB) the balloon can give it. */
  maxMemoryKiB: number;
}

const KIB: Record<string, number> = { kib: 1, k: 1, mib: 1024, m: 1024, gib: 1048576, g: 1048576, b: 1 / 1024, bytes: 1 / 1024 };

/** The limits of a running guest, from its live XML. */
export function liveLimits(liveXml: string): LiveLimits {
  const d = parseXml(liveXml);
  const mem = child(d, 'memory');
  return {
    maxVcpus: Number(textOf(child(d, 'vcpu')) || 1),
    maxMemoryKiB: Math.round(Number(textOf(mem)) * (KIB[(attr(mem, 'unit') ?? 'KiB').toLowerCase()] ?? 1)),
  };
}

export interface EditWanted {
  cpus?: number;
  /** MiB */
  memory?: number;
  /** A new name, when it differs from the current one. */
  rename?: string;
}

/** What of `want` a running guest with `limits` cannot take, one reason per field. */
export function runningRefusals(want: EditWanted, limits: LiveLimits): string[] {
  const out: string[] = [];
  if (want.rename !== undefined) out.push('name: libvirt renames only a stopped guest');
  if (want.cpus !== undefined && want.cpus > limits.maxVcpus)
    out.push(`cpus: ${want.cpus} is above the running guest's maximum of ${limits.maxVcpus} vCPUs, which changes only while it is stopped`);
  if (want.memory !== undefined && want.memory * 1024 > limits.maxMemoryKiB)
    out.push(`memory: ${want.memory} MiB is above the running guest's maximum of ${Math.floor(limits.maxMemoryKiB / 1024)} MiB, which changes only while it is stopped`);
  return out;
}
