/**
 * Guest settings in the OMS shapes (strings of numbers, MiB) and their checks against the node's
 * limits. The OMS contract reports invalid settings per field in the result instead of failing the
 * call, so these checks return messages; the valid fields are applied. Pure: no I/O, no state.
 */
import { z } from 'zod';
import type { NodeInfo } from './parse.ts';

/** A guest needs a CPU; below 16 MiB not even firmware runs. */
export const MIN_VCPU = 1;
export const MIN_MEMORY_MIB = 16;

export interface SystemMinMax {
  max_vcpu: string;
  min_vcpu: string;
  min_memory: string;
  max_memory: string;
}

/** parse_system_min_max: the node's own CPUs and memory (virsh nodeinfo) bound a guest's. */
export const systemMinMax = (n: NodeInfo): SystemMinMax => ({
  max_vcpu: String(n.cpus),
  min_vcpu: String(MIN_VCPU),
  min_memory: String(MIN_MEMORY_MIB),
  max_memory: String(Math.floor(n.memoryKiB / 1024)),
});

/** A settings value as clients send it: OMS sends numbers as strings ("2"), JSON clients as numbers. */
export const settingValue = z.union([z.string().max(64), z.number()]);

/** Whole number from a settings value, or undefined when it is not one. */
export function wholeNumber(v: unknown): number | undefined {
  const s = typeof v === 'number' ? String(v) : typeof v === 'string' ? v.trim() : '';
  return /^\d{1,9}$/.test(s) ? Number(s) : undefined;
}

export const VCPU_ERROR = 'Virtual CPU count not correct';
export const MEMORY_ERROR = 'Memory size not correct';

export function checkVcpu(v: unknown, n: NodeInfo): number | string {
  const k = wholeNumber(v);
  return k !== undefined && k >= MIN_VCPU && k <= n.cpus ? k : VCPU_ERROR;
}

export function checkMemory(v: unknown, n: NodeInfo): number | string {
  const k = wholeNumber(v);
  return k !== undefined && k >= MIN_MEMORY_MIB && k <= Math.floor(n.memoryKiB / 1024) ? k : MEMORY_ERROR;
}

/** update_vm_settings: which of vcpu/memory to apply, and the per-field errors of the others. */
export function checkVmSettings(settings: Record<string, unknown>, n: NodeInfo): { apply: { vcpu?: number; memory?: number }; errors: Record<string, string> } {
  const apply: { vcpu?: number; memory?: number } = {};
  const errors: Record<string, string> = {};
  for (const [key, value] of Object.entries(settings)) {
    if (key === 'vcpu') {
      const r = checkVcpu(value, n);
      if (typeof r === 'number') apply.vcpu = r;
      else errors.vcpu = r;
    } else if (key === 'memory') {
      const r = checkMemory(value, n);
      if (typeof r === 'number') apply.memory = r;
      else errors.memory = r;
    } else errors[key] = 'Unknown setting';
  }
  return { apply, errors };
}

/** On/off flags as OMS sends them: "yes"/"no", "on"/"off", "" (= no), booleans. */
export const onOff = z.union([z.boolean(), z.enum(['yes', 'no', 'on', 'off', 'true', 'false', '1', '0', ''])]).transform((v) => v === true || v === 'yes' || v === 'on' || v === 'true' || v === '1');
