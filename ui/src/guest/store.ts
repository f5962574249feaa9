/**
 * One KVM guest as its view shows it: state (get_vm_state), settings, drives, NICs, runtime facts,
 * tags and its task history, read when the view opens (and on every re-list of the event stream)
 * and re-read part by part when an event names the guest: a kvm event its state and runtime, a
 * task event about it its history and state, a tag change its tags. Nothing is polled.
 */
import { signal } from '@preact/signals';
import type { OmsEvent, TaskRow } from '@oms/client/browser';
import { isConnectionError } from '@oms/client/browser';
import { errorText, oms } from '../lib/client.ts';
import { lostSession } from '../lib/session.ts';

/** get_vm_state's states: settled ones and the transitions a running power call names. */
export type VmState = 'STOPPED' | 'RUNNING' | 'PAUSED' | 'STARTING' | 'PAUSING' | 'RESUMING' | 'STOPPING' | (string & {});

export interface StateInfo {
  state: VmState | null;
  task_id: string | null;
}

export interface Settings {
  vcpu: string;
  memory: string;
  min_vcpu?: number | string;
  max_vcpu?: number | string;
  min_memory?: number | string;
  max_memory?: number | string;
}

export interface Drive {
  target_dev: string;
  device: string;
  dev_channel: string;
  media: string;
  type: string;
  source: string;
  readonly?: boolean;
  live?: boolean;
}

export interface Nic {
  mac: string;
  type: string;
  source: string;
}

export interface Runtime {
  autostart?: boolean;
  vcpus?: number;
  cpu_time_ns?: number;
  memory?: { current_kib: number; maximum_kib: number };
  started_at?: string | null;
  ips: string[];
}

/** Something read: its value, or why it could not be. */
export type Part<T> = { value?: T; error?: string };

const part = <T>() => signal<Part<T>>({});

export class GuestStore {
  readonly node: string;
  readonly name: string;
  readonly state = part<StateInfo>();
  /** The guest is no longer defined (an undefined event, or UnknownVmError). */
  readonly gone = signal(false);
  readonly settings = part<Settings>();
  readonly drives = part<Drive[]>();
  readonly nics = part<Nic[]>();
  readonly runtime = part<Runtime>();
  readonly tags = part<string[]>();
  readonly history = part<TaskRow[]>();
  readonly #timers = new Map<string, ReturnType<typeof setTimeout>>();
  #closed = false;

  constructor(node: string, name: string) {
    this.node = node;
    this.name = name;
  }

  /**
   * Reads into `into`, keeping the last value when a read fails. A read that did not reach the
   * gateway is tried once more: these are all reads, and a browser does not retry a POST itself
   * when the gateway has just closed the idle connection it reused ("Failed to fetch").
   */
  async #read<T>(into: ReturnType<typeof part<T>>, work: () => Promise<T>): Promise<void> {
    try {
      const value = await work().catch(async (e) => {
        if (!isConnectionError(e, 'unreachable') || this.#closed) throw e;
        await new Promise((r) => setTimeout(r, 250));
        return work();
      });
      if (!this.#closed) into.value = { value };
    } catch (e) {
      if (lostSession(e) || this.#closed) return;
      into.value = { value: into.value.value, error: errorText(e) };
    }
  }

  readState = () =>
    this.#read(this.state, async () => {
      try {
        const s = (await oms.kvmservices.get_vm_state(this.node, this.name)) as StateInfo;
        this.gone.value = false;
        return s;
      } catch (e) {
        if ((e as { omsName?: string }).omsName === 'UnknownVmError') this.gone.value = true;
        throw e;
      }
    });

  readSettings = () => this.#read(this.settings, async () => (await oms.kvmservices.parse_vm_settings(this.node, this.name)) as Settings);
  readDrives = () => this.#read(this.drives, async () => (await oms.kvmservices.list_drives(this.node, this.name)) as Drive[]);
  // The NICs of the definition (a stopped guest's too): parse_vm_for_template lists them; the
  // template name it asks for only names paths in its answer, nothing is made.
  readNics = () =>
    this.#read(this.nics, async () => {
      const t = (await oms.kvmservices.parse_vm_for_template(this.node, this.name, 'view')) as { interfaces?: { source_bridge: string; type: string; mac_address: string }[] };
      return (t.interfaces ?? []).map((i) => ({ mac: i.mac_address, type: i.type, source: i.source_bridge }));
    });
  readRuntime = () =>
    this.#read(this.runtime, async () => {
      const [info, rt] = await Promise.all([
        oms.kvmservices.vm_runtime_info(this.node, this.name) as Promise<Omit<Runtime, 'ips' | 'started_at'>>,
        oms.kvmservices.get_vm_runtime(this.node, this.name) as Promise<{ started_at: string | null; nics: { ips: { address: string; prefix?: number }[] }[] }>,
      ]);
      return { ...info, started_at: rt.started_at, ips: rt.nics.flatMap((n) => n.ips.map((i) => i.address)) };
    });
  readTags = () => this.#read(this.tags, async () => ((await oms.kvmservices.get_vm_meta(this.node, this.name)) as { tags: string[] }).tags);
  readHistory = () =>
    this.#read(this.history, async () => (await oms.tasks.list_tasks(this.node, undefined, 500)).filter((t) => t.target === this.name));

  relist(): void {
    void this.readState();
    void this.readSettings();
    void this.readDrives();
    void this.readNics();
    void this.readRuntime();
    void this.readTags();
    void this.readHistory();
  }

  /** Runs `work` once for a burst of events. */
  #soon(key: string, work: () => void, ms = 150): void {
    clearTimeout(this.#timers.get(key));
    this.#timers.set(
      key,
      setTimeout(() => {
        this.#timers.delete(key);
        if (!this.#closed) work();
      }, ms),
    );
  }

  apply(ev: OmsEvent): void {
    if (ev.node !== this.node) return;
    if (ev.type === 'kvm' && ev.target === this.name) {
      if (ev.action === 'undefined') this.gone.value = true;
      this.#soon('state', () => void this.readState());
      this.#soon('runtime', () => void (this.readRuntime(), this.readDrives(), this.readNics(), this.readSettings()), 600);
      return;
    }
    if (ev.type === 'task' && (ev.data as { guest?: string } | undefined)?.guest === this.name) {
      this.#soon('history', () => void this.readHistory(), 300);
      this.#soon('state', () => void this.readState());
      return;
    }
    if (ev.type === 'inventory' && (ev.data as { service?: string } | undefined)?.service === 'tagservices') this.#soon('tags', () => void this.readTags());
  }

  close(): void {
    this.#closed = true;
    for (const t of this.#timers.values()) clearTimeout(t);
  }
}
