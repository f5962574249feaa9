/**
 * Readers for what a guest's move runs on the nodes (migrate-commands.ts), and the pure checks of
 * whether a guest can move as it is. Pure: no I/O, no state.
 */
import { posix } from 'node:path';
import type { DomainInfo } from './domain.ts';
import { child, elements, parseXml } from './xml.ts';

/** `df -B1 --output=avail`: the number under the header. */
export function parseAvail(text: string): number {
  const lines = text.split('\n').map((l) => l.trim()).filter(Boolean);
  const n = Number(lines[1]);
  if (lines.length !== 2 || !/^Avail/.test(lines[0]) || !Number.isSafeInteger(n)) throw new Error('unexpected df output');
  return n;
}

/** `sha256sum -- PATH`: the hex digest. */
export function parseSha256(text: string): string {
  const m = /^([0-9a-f]{64}) /.exec(text);
  if (!m) throw new Error('unexpected sha256sum output');
  return m[1];
}

/** `stat -c %s`: bytes. */
export function parseSize(text: string): number {
  const n = Number(text.trim());
  if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(n)) throw new Error('unexpected stat output');
  return n;
}

/**
 * An absolute, normalized path (no `..`, no relative part): a disk source libvirt holds is
 * absolute already; this keeps a strange one from being joined anywhere.
 */
export const isMovablePath = (p: string): boolean => p.startsWith('/') && posix.normalize(p) === p && !p.includes('\0') && !p.endsWith('/');

/** A disk that moves with the guest: a writable file disk, copied byte for byte to the same path on the target. */
export interface MovingDisk {
  target: string;
  path: string;
}

/** What the guest takes along, or why it cannot move as it is. */
export type MovePlan = { disks: MovingDisk[]; shared: string[] } | { refuse: string };

/**
 * From the guest's persistent definition: file disks move (same path on the target); CD-ROMs and
 * read-only disks are shared media that must be on the target already (checked there). Refused:
 * block devices (an LV or a device is not a file the gateway can copy), UEFI variable stores
 * (a second file libvirt keeps outside the definition) and any path that is not plain absolute.
 */
export function planMove(d: DomainInfo, inactiveXml: string): MovePlan {
  const dom = parseXml(inactiveXml);
  const devices = child(dom, 'devices');
  const readonly = new Set(elements(devices, 'disk').filter((k) => child(k, 'readonly') || child(k, 'shareable')).map((k) => child(k, 'target')?.getAttribute('dev') ?? ''));
  if (child(dom, 'os', 'nvram') || child(dom, 'os', 'loader')) return { refuse: 'it has UEFI firmware with a variable store, which is not moved' };
  const disks: MovingDisk[] = [];
  const shared: string[] = [];
  for (const k of d.disks) {
    if (!k.source) continue;
    if (k.type !== 'file') return { refuse: `disk ${k.targetDev} is a ${k.type || 'non-file'} device; only file disks are copied` };
    if (!isMovablePath(k.source)) return { refuse: `disk ${k.targetDev} has a path that is not plain absolute` };
    if (k.device === 'cdrom' || readonly.has(k.targetDev)) shared.push(k.source);
    else disks.push({ target: k.targetDev, path: k.source });
  }
  const paths = disks.map((k) => k.path);
  if (new Set(paths).size !== paths.length) return { refuse: 'two of its disks are the same file' };
  return { disks, shared };
}

/** Free space needed per directory on the target: each disk's bytes in the directory it lands in. */
export function spaceNeeded(disks: readonly { path: string; bytes: number }[]): Map<string, number> {
  const need = new Map<string, number>();
  for (const k of disks) need.set(posix.dirname(k.path), (need.get(posix.dirname(k.path)) ?? 0) + k.bytes);
  return need;
}

const MIGRATE_STEP = /Migration: \[\s*(\d{1,3}) %\]/;

/** One `virsh migrate --verbose` step (`Migration: [ 45 %]`, each after a carriage return): the percentage, else undefined. */
export function parseMigrateStep(text: string): number | undefined {
  const m = MIGRATE_STEP.exec(text);
  const p = m ? Number(m[1]) : NaN;
  return p >= 0 && p <= 100 ? p : undefined;
}
