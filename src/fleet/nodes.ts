/**
 * Node records: enrollment requests and signed nodes with their pinned host keys. The database
 * is the only place a pinned key lives; the transport reads it for every new connection.
 */
import type { Db } from '../db/database.ts';
import { nowSeconds } from '../db/database.ts';
import { oms } from '../rpc/errors.ts';
import type { EventSink } from '../events/types.ts';

export interface NodeSettings {
  /** libvirt connection URI used by virsh on the node. */
  libvirtUri?: string;
  /** File holding the gateway's key on the node, for revocation (remove_signed). */
  authorizedKeysFile?: string;
  /** false on kernels without device-mapper: LVM commands then run with `--driverloaded n`. */
  lvmDriverLoaded?: boolean;
  /** Directories of managed files (defaults in dirs.ts). */
  isoDir?: string;
  imagesDir?: string;
  templatesDir?: string;
  containerTemplatesDir?: string;
  /** Where save_network_config writes its ifupdown files (lab nodes share the host's /etc). */
  networkConfigDir?: string;
  /**
   * The libvirt network a new KVM guest's NIC joins (create_vm_from_iso, deploy_template_for_vm):
   * a network name (it must exist), '' for no NIC, unset or null for libvirt's `default` network
   * when it is defined and active, else no NIC.
   */
  defaultGuestNetwork?: string | null;
  /**
   * How the node runs the guests OMS defines from scratch (libvirt's domain type): 'kvm' (unset or
   * null) with hardware virtualization, 'qemu' with QEMU's emulator (TCG), for nodes without
   * VT-x/AMD-V or whose KVM cannot boot a guest (some nested hosts). TCG is many times slower.
   */
  guestVirtType?: 'kvm' | 'qemu' | null;
  /**
   * The health monitor's limits for this node (src/health): memory and disk used in percent,
   * load per CPU; each unset or null takes the gateway's setting (OMS_HEALTH_*_LIMIT), 0 is off.
   */
  healthLimits?: { memory?: number | null; disk?: number | null; load_per_cpu?: number | null };
}

export interface NodeRecord {
  name: string;
  address: string;
  port: number;
  signed: boolean;
  hostKeyFingerprint?: string;
  hostKey?: string;
  signedAt?: number;
  signedBy?: string;
  request?: { address: string; port: number; fingerprint: string; key: string; at: number; by?: string };
  settings: NodeSettings;
}

interface Row {
  name: string;
  address: string;
  port: number;
  signed: number;
  host_key_fingerprint: string | null;
  host_key: string | null;
  signed_at: number | null;
  signed_by: string | null;
  request_address: string | null;
  request_port: number | null;
  request_fingerprint: string | null;
  request_key: string | null;
  requested_at: number | null;
  requested_by: string | null;
  settings: string;
}

const toRecord = (r: Row): NodeRecord => ({
  name: r.name,
  address: r.address,
  port: r.port,
  signed: !!r.signed,
  hostKeyFingerprint: r.host_key_fingerprint ?? undefined,
  hostKey: r.host_key ?? undefined,
  signedAt: r.signed_at ?? undefined,
  signedBy: r.signed_by ?? undefined,
  request: r.request_fingerprint
    ? { address: r.request_address!, port: r.request_port!, fingerprint: r.request_fingerprint, key: r.request_key!, at: r.requested_at!, by: r.requested_by ?? undefined }
    : undefined,
  settings: JSON.parse(r.settings) as NodeSettings,
});

export class NodeStore {
  /** `events`: node events (requested, enrolled, removed, settings-changed) as the store changes. */
  constructor(
    private readonly db: Db,
    private readonly events?: EventSink,
  ) {}

  private tell(node: string, action: string, data: Record<string, unknown> = {}): void {
    this.events?.publish({ type: 'node', node, action, data });
  }

  find(name: string): NodeRecord | undefined {
    const r = this.db.prepare('SELECT * FROM nodes WHERE name = ?').get(name) as Row | undefined;
    return r && toRecord(r);
  }

  /** A signed node, or UnknownNodeError naming it. */
  signed(name: string): NodeRecord {
    const n = this.find(name);
    if (!n?.signed) throw oms('UnknownNodeError', { node: name });
    return n;
  }

  listSigned(tag?: string): NodeRecord[] {
    const rows = tag
      ? this.db.prepare('SELECT n.* FROM nodes n JOIN node_tags t ON t.node = n.name WHERE n.signed = 1 AND t.tag = ? ORDER BY n.name').all(tag)
      : this.db.prepare('SELECT * FROM nodes WHERE signed = 1 ORDER BY name').all();
    return (rows as Row[]).map(toRecord);
  }

  listRequests(): NodeRecord[] {
    return (this.db.prepare('SELECT * FROM nodes WHERE request_fingerprint IS NOT NULL ORDER BY name').all() as Row[]).map(toRecord);
  }

  /**
   * Records a request. For a signed node this is how its key or address is changed: the node
   * stays signed with its old key (so connections keep being refused on a mismatch) until an
   * administrator signs the new request.
   */
  request(name: string, address: string, port: number, fingerprint: string, key: string, by: string, settings?: NodeSettings): void {
    const now = nowSeconds();
    this.db.transaction(() => {
      const existing = this.find(name);
      if (existing) {
        this.db
          .prepare('UPDATE nodes SET request_address = ?, request_port = ?, request_fingerprint = ?, request_key = ?, requested_at = ?, requested_by = ?, settings = ? WHERE name = ?')
          .run(address, port, fingerprint, key, now, by, JSON.stringify({ ...existing.settings, ...settings }), name);
      } else {
        this.db
          .prepare(
            `INSERT INTO nodes (name, address, port, signed, request_address, request_port, request_fingerprint, request_key, requested_at, requested_by, settings)
             VALUES (?, ?, ?, 0, ?, ?, ?, ?, ?, ?, ?)`,
          )
          .run(name, address, port, address, port, fingerprint, key, now, by, JSON.stringify(settings ?? {}));
      }
    })();
    this.tell(name, 'requested', { address, port, fingerprint, by });
  }

  /** Pins the requested key and address; returns the record as signed. */
  sign(name: string, by: string): NodeRecord {
    const changes = this.db
      .prepare(
        `UPDATE nodes SET signed = 1, address = request_address, port = request_port, host_key_fingerprint = request_fingerprint, host_key = request_key,
           signed_at = ?, signed_by = ?, request_address = NULL, request_port = NULL, request_fingerprint = NULL, request_key = NULL, requested_at = NULL, requested_by = NULL
         WHERE name = ? AND request_fingerprint IS NOT NULL`,
      )
      .run(nowSeconds(), by, name).changes;
    if (!changes) throw oms('UnknownSignRequestsError', { hosts: name });
    const n = this.signed(name);
    this.tell(name, 'enrolled', { address: n.address, port: n.port, fingerprint: n.hostKeyFingerprint, by });
    return n;
  }

  /** Drops a request; a node that was never signed disappears entirely. */
  removeRequest(name: string): boolean {
    const removed = this.db.transaction(() => {
      const n = this.find(name);
      if (!n?.request) return false;
      if (n.signed)
        this.db.prepare('UPDATE nodes SET request_address = NULL, request_port = NULL, request_fingerprint = NULL, request_key = NULL, requested_at = NULL, requested_by = NULL WHERE name = ?').run(name);
      else this.db.prepare('DELETE FROM nodes WHERE name = ?').run(name);
      return true;
    })();
    if (removed) this.tell(name, 'request-removed');
    return removed;
  }

  removeSigned(name: string): boolean {
    const removed = this.db.prepare('DELETE FROM nodes WHERE name = ? AND signed = 1').run(name).changes > 0;
    if (removed) this.tell(name, 'removed');
    return removed;
  }

  setSettings(name: string, settings: NodeSettings): void {
    const n = this.signed(name);
    const merged = { ...n.settings, ...settings };
    this.db.prepare('UPDATE nodes SET settings = ? WHERE name = ?').run(JSON.stringify(merged), name);
    this.tell(name, 'settings-changed', { settings: merged });
  }
}
