/**
 * What the storage screen shows of one node: ISO images, disk images, LVM volume groups and
 * volumes. Listed when the node is chosen and when the event stream (re)starts; a section is
 * re-read when an `inventory` event says a call changed it on this node, or a `task` event says
 * an ISO upload or fetch there finished. Nothing is polled.
 */
import { signal } from '@preact/signals';
import type { OmsEvent } from '@oms/client/browser';
import { errorText, oms } from '../lib/client.ts';
import type { EventSink } from '../lib/live.ts';
import { lostSession } from '../lib/session.ts';

export interface Iso {
  name: string;
  size: number;
  mtime: number;
}
export interface Vg {
  name: string;
  size: number;
  free: number;
  lv_count: number;
  pv_count: number;
}
export interface Lv {
  name: string;
  vg: string;
  size: number;
  path: string;
  attr?: string;
}

export type Section = 'isos' | 'images' | 'lvm';

export interface Loaded<T> {
  rows?: T;
  error?: string;
}

const sectionOfService: Record<string, Section | undefined> = { isoservices: 'isos', lvmservices: 'lvm' };

export class StorageStore implements EventSink {
  readonly node = signal<string | undefined>(undefined);
  readonly isos = signal<Loaded<Iso[]>>({});
  readonly images = signal<Loaded<string[]>>({});
  readonly vgs = signal<Loaded<Vg[]>>({});
  readonly lvs = signal<Loaded<Lv[]>>({});
  readonly #timers = new Map<Section, ReturnType<typeof setTimeout>>();

  show(node: string | undefined): void {
    if (node === this.node.peek()) return;
    this.node.value = node;
    this.isos.value = {};
    this.images.value = {};
    this.vgs.value = {};
    this.lvs.value = {};
    this.relist();
  }

  relist(): void {
    for (const s of ['isos', 'images', 'lvm'] as const) void this.load(s);
  }

  async load(section: Section): Promise<void> {
    const node = this.node.peek();
    if (!node) return;
    const read = async <T,>(target: { value: Loaded<T> }, call: () => Promise<unknown>) => {
      try {
        const rows = (await call()) as T;
        if (this.node.peek() === node) target.value = { rows };
      } catch (e) {
        if (!lostSession(e) && this.node.peek() === node) target.value = { error: errorText(e) };
      }
    };
    if (section === 'isos') await read(this.isos, () => oms.isoservices.list_image_details(node));
    if (section === 'images') await read(this.images, () => oms.kvmservices.list_file_based_images(node));
    if (section === 'lvm') await Promise.all([read(this.vgs, () => oms.lvmservices.list_volume_groups(node)), read(this.lvs, () => oms.lvmservices.list_logical_volumes(node))]);
  }

  #soon(section: Section): void {
    clearTimeout(this.#timers.get(section));
    this.#timers.set(
      section,
      setTimeout(() => {
        this.#timers.delete(section);
        void this.load(section);
      }, 150),
    );
  }

  apply(ev: OmsEvent): void {
    if (!ev.node || ev.node !== this.node.peek()) return;
    const data = (ev.data ?? {}) as { service?: string; method?: string; kind?: string };
    if (ev.type === 'inventory') {
      const s = data.service === 'kvmservices' && /file_based_image/.test(data.method ?? '') ? 'images' : sectionOfService[data.service ?? ''];
      if (s) this.#soon(s);
    } else if (ev.type === 'task' && ev.action === 'finished' && data.kind?.startsWith('iso.')) this.#soon('isos');
    else if (ev.type === 'node' && ev.action === 'connected') this.relist();
  }

  clear(): void {
    for (const t of this.#timers.values()) clearTimeout(t);
    this.#timers.clear();
    this.node.value = undefined;
  }
}

export const storage = new StorageStore();
