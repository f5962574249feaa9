/**
 * Container templates: root-filesystem tarballs in the node's template cache,
 * `/var/lib/oms-node/templates/cache/NAME.tar.gz`, each with an optional `NAME.json` beside it
 * holding the template's default settings and bounds (what parse_template_for_vm shows and
 * create_template_from_vm records). Pure.
 */
import { defaultNodeDirs } from '../../src/fleet/dirs.ts';
import type { narrow } from './settings.ts';

/** Default template cache; a node's own is its containerTemplatesDir setting (src/fleet/dirs.ts). */
export const TEMPLATE_CACHE = defaultNodeDirs.containerTemplates;
export const tarballOf = (name: string, dir: string = TEMPLATE_CACHE): string => `${dir}/${name}.tar.gz`;
export const metaOf = (name: string, dir: string = TEMPLATE_CACHE): string => `${dir}/${name}.json`;

export interface TemplateMeta {
  memory: number;
  vcpu: number;
  vcpulimit: number;
  disk: number;
  min_memory?: number;
  max_memory?: number;
  min_vcpu?: number;
  max_vcpu?: number;
  min_vcpulimit?: number;
  max_vcpulimit?: number;
  min_disk?: number;
  max_disk?: number;
  /** Signal that halts the template's init (busybox: SIGUSR1). */
  halt_signal: string;
}

export const DEFAULT_META: TemplateMeta = { memory: 128, vcpu: 1, vcpulimit: 0, disk: 256, halt_signal: 'SIGPWR' };

const NUMERIC = ['memory', 'vcpu', 'vcpulimit', 'disk', 'min_memory', 'max_memory', 'min_vcpu', 'max_vcpu', 'min_vcpulimit', 'max_vcpulimit', 'min_disk', 'max_disk'] as const;

/** The JSON beside a tarball; anything malformed or missing falls back to the defaults, key by key. */
export function parseMeta(text: string | undefined): TemplateMeta {
  const out: Record<string, unknown> = { ...DEFAULT_META };
  if (!text) return out as unknown as TemplateMeta;
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    // A hand-edited file that is not JSON: the template still deploys with defaults.
    return out as unknown as TemplateMeta;
  }
  if (typeof raw !== 'object' || raw === null) return out as unknown as TemplateMeta;
  const r = raw as Record<string, unknown>;
  for (const k of NUMERIC) {
    const v = typeof r[k] === 'string' ? Number(r[k]) : r[k];
    if (typeof v === 'number' && Number.isInteger(v) && v >= 0 && v < 1e9) out[k] = v;
  }
  if (typeof r.halt_signal === 'string' && /^SIG[A-Z0-9+]{2,12}$/.test(r.halt_signal)) out.halt_signal = r.halt_signal;
  return out as unknown as TemplateMeta;
}

export const templateBounds = (m: TemplateMeta): Parameters<typeof narrow>[1] => ({
  ...(m.min_memory !== undefined ? { min_memory: m.min_memory } : {}),
  ...(m.max_memory !== undefined ? { max_memory: m.max_memory } : {}),
  ...(m.min_vcpu !== undefined ? { min_vcpu: m.min_vcpu } : {}),
  ...(m.max_vcpu !== undefined ? { max_vcpu: m.max_vcpu } : {}),
  ...(m.min_vcpulimit !== undefined ? { min_vcpulimit: m.min_vcpulimit } : {}),
  ...(m.max_vcpulimit !== undefined ? { max_vcpulimit: m.max_vcpulimit } : {}),
  ...(m.min_disk !== undefined ? { min_disk: m.min_disk } : {}),
  ...(m.max_disk !== undefined ? { max_disk: m.max_disk } : {}),
});

export const renderMeta = (m: TemplateMeta): string => JSON.stringify(m, null, 2) + '\n';
