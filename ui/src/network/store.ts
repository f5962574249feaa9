/**
 * What the network screen shows of one node: interfaces, bridges, routes (with the default
 * gateway among them) and libvirt networks. Listed when the node is chosen and when the event
 * stream (re)starts; re-read when an `inventory` event says a netinterfaceservices call, or a
 * libvirt network call, changed this node. Nothing is polled.
 */
import { signal } from '@preact/signals';
import type { OmsEvent } from '@oms/client/browser';
import { errorText, oms } from '../lib/client.ts';
import type { EventSink } from '../lib/live.ts';
import { lostSession } from '../lib/session.ts';

export interface Iface {
  interface: string;
  kind: string | null;
  master: string | null;
  state: string;
  mac: string;
  mtu: number;
  addresses: { family: string; address: string; prefix: number; scope: string }[];
}
export interface Bridge {
  bridge: string;
  members: string[];
}
export interface RouteRow {
  family: string;
  destination: string;
  prefix: number;
  gateway: string | null;
  interface: string;
  metric: number;
  protocol: string | null;
  type: string;
}
export interface Net {
  name: string;
  active: boolean;
  autostart: boolean;
  bridge: string | null;
  forward: string | null;
  vlans: number[];
  ip: { address: string; prefix: number } | null;
  dhcp: { start: string; end: string } | null;
}

export interface NetState {
  ifaces?: Iface[];
  bridges?: Bridge[];
  routes?: RouteRow[];
  networks?: Net[];
  error?: string;
  networksError?: string;
}

export class NetworkStore implements EventSink {
  readonly node = signal<string | undefined>(undefined);
  readonly state = signal<NetState>({});
  #timer: ReturnType<typeof setTimeout> | undefined;
  #reading = 0;

  show(node: string | undefined): void {
    if (node === this.node.peek()) return;
    this.node.value = node;
    this.state.value = {};
    this.relist();
  }

  relist(): void {
    void this.load();
  }

  async load(): Promise<void> {
    const node = this.node.peek();
    if (!node) return;
    const mine = ++this.#reading;
    const [links, routes, bridges, networks] = await Promise.allSettled([
      oms.netinterfaceservices.list_interfaces(node),
      oms.netinterfaceservices.list_routes(node),
      oms.netinterfaceservices.list_bridges(node),
      oms.kvmservices.list_networks(node),
    ]);
    if (mine !== this.#reading) return;
    const failed = [links, routes, bridges].find((r) => r.status === 'rejected') as PromiseRejectedResult | undefined;
    if (failed && lostSession(failed.reason)) return;
    if (networks.status === 'rejected' && lostSession(networks.reason)) return;
    this.state.value = {
      ifaces: links.status === 'fulfilled' ? (links.value as Iface[]) : undefined,
      routes: routes.status === 'fulfilled' ? (routes.value as RouteRow[]) : undefined,
      bridges: bridges.status === 'fulfilled' ? (bridges.value as Bridge[]) : undefined,
      networks: networks.status === 'fulfilled' ? (networks.value as Net[]) : undefined,
      error: failed ? errorText(failed.reason) : undefined,
      networksError: networks.status === 'rejected' ? errorText(networks.reason) : undefined,
    };
  }

  apply(ev: OmsEvent): void {
    if (!ev.node || ev.node !== this.node.peek()) return;
    const d = (ev.data ?? {}) as { service?: string; method?: string };
    const mine = ev.type === 'inventory' && (d.service === 'netinterfaceservices' || (d.service === 'kvmservices' && /network/.test(d.method ?? '')));
    if (!mine && !(ev.type === 'node' && ev.action === 'connected')) return;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => void this.load(), 150);
  }

  clear(): void {
    clearTimeout(this.#timer);
    this.#reading++;
    this.node.value = undefined;
  }
}

export const network = new NetworkStore();

/** 24 -> 255.255.255.0, as the IPv4 methods take netmasks. */
export function netmaskOf(prefix: number): string {
  const bits = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  return [24, 16, 8, 0].map((s) => (bits >>> s) & 255).join('.');
}
