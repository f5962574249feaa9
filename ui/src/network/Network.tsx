/**
 * The network screen (`#/network/<node>`): interfaces, bridges, routes, the default gateway and
 * libvirt networks of one node. Every destructive change asks first. A change the gateway refuses
 * because it would cut its own SSH connection to the node (SshPathError) is shown as such, with
 * a separate, confirmed "do it anyway" (the methods' force flag).
 */
import type { ComponentChildren } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { errorText, isOmsError, oms } from '../lib/client.ts';
import { useConfirm, type Ask } from '../lib/confirm.tsx';
import { listen } from '../lib/live.ts';
import { currentNode, NodePick } from '../lib/node-pick.tsx';
import { lostSession } from '../lib/session.ts';
import { netmaskOf, network, type RouteRow } from './store.ts';
import '../lib/ops.css';
import './network.css';

interface Change {
  /** What is done, for the messages ("delete bridge br1"). */
  what: string;
  /** Asked before anything is sent; absent for additions. */
  confirm?: Omit<Ask, 'confirm'> & { confirm: string };
  call: (force: boolean) => Promise<unknown>;
}

interface Refusal {
  change: Change;
  message: string;
}

function useChanges(node: string, ask: (a: Ask) => Promise<boolean>) {
  const [busy, setBusy] = useState(false);
  const [ok, setOk] = useState<string | undefined>();
  const [error, setError] = useState<string | undefined>();
  const [refusal, setRefusal] = useState<Refusal | undefined>();

  const apply = async (c: Change, force: boolean): Promise<boolean> => {
    setBusy(true);
    setOk(undefined);
    setError(undefined);
    setRefusal(undefined);
    try {
      await c.call(force);
      setOk(`Done: ${c.what}${force ? ' (forced)' : ''}.`);
      return true;
    } catch (e) {
      if (lostSession(e)) return false;
      if (!force && isOmsError(e, 'SshPathError')) setRefusal({ change: c, message: e.message });
      else setError(errorText(e));
      return false;
    } finally {
      setBusy(false);
    }
  };

  const change = async (c: Change): Promise<boolean> => {
    if (c.confirm && !(await ask(c.confirm))) return false;
    return apply(c, false);
  };

  const force = async () => {
    if (!refusal) return;
    const ok = await ask({
      title: `Really ${refusal.change.what}?`,
      body: (
        <p>
          This change touches the path the gateway's SSH connection to <strong>{node}</strong> takes. If the connection is cut, OMS cannot reach {node} again to undo it: someone must fix it on the node's console.
        </p>
      ),
      confirm: `Yes, ${refusal.change.what} anyway`,
    });
    if (ok) await apply(refusal.change, true);
  };

  const outcome = (
    <div class="outcome">
      <p role="status" class="ok-text">
        {ok ?? ''}
      </p>
      <p role="alert" class="error">
        {error ?? ''}
      </p>
      {refusal ? (
        <div class="refusal" role="alert">
          <p>
            <strong>Not done: OMS refused to {refusal.change.what}</strong>, because it would cut the gateway's own SSH connection to {node}.
          </p>
          <p class="muted">SshPathError: {refusal.message}</p>
          <div class="actions start">
            <button type="button" onClick={() => setRefusal(undefined)}>
              Leave it
            </button>
            <button type="button" class="danger" onClick={() => void force()}>
              Do it anyway…
            </button>
          </div>
        </div>
      ) : null}
    </div>
  );
  return { change, busy, outcome };
}

const field = (f: FormData, k: string) => String(f.get(k) ?? '').trim();

function Table({ label, head, children }: { label: string; head: string[]; children: ComponentChildren }) {
  return (
    <div class="scroll" tabIndex={0} role="region" aria-label={`${label} table`}>
      <table>
        <caption class="visually-hidden">{label}</caption>
        <thead>
          <tr>
            {head.map((h) => (
              <th scope="col" key={h}>
                {h}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>{children}</tbody>
      </table>
    </div>
  );
}

function NodeNetwork({ node, ask }: { node: string; ask: (a: Ask) => Promise<boolean> }) {
  const { change, busy, outcome } = useChanges(node, ask);
  const s = network.state.value;
  const ifaces = s.ifaces ?? [];
  const routes = (s.routes ?? []).filter((r) => r.family === 'inet');
  const defaults = routes.filter((r) => r.prefix === 0 && r.gateway);
  const ifNames = ifaces.map((i) => i.interface).filter((n) => n !== 'lo');
  const submit = (make: (f: FormData) => Change) => (ev: Event) => {
    ev.preventDefault();
    const form = ev.target as HTMLFormElement;
    void change(make(new FormData(form))).then((done) => done && form.reset());
  };
  const routeWhat = (r: RouteRow) => `delete the route ${r.destination}/${r.prefix}${r.gateway ? ` via ${r.gateway}` : ''} on ${r.interface}`;

  if (!s.ifaces && !s.error) return <p class="muted">Reading the network of {node}…</p>;
  return (
    <>
      {s.error ? <p class="error">{s.error}</p> : null}
      <div class="sticky-outcome">{outcome}</div>

      <section class="panel" aria-labelledby="net-ifaces">
        <h2 id="net-ifaces">Interfaces</h2>
        <Table label={`Interfaces of ${node}`} head={['Interface', 'Kind', 'State', 'Bridge', 'Addresses']}>
          {ifaces.map((i) => (
            <tr key={i.interface}>
              <th scope="row">{i.interface}</th>
              <td>{i.kind ?? '—'}</td>
              <td>{i.state}</td>
              <td>{i.master ?? '—'}</td>
              <td class="wrap">{i.addresses.map((a) => `${a.address}/${a.prefix}`).join(', ') || '—'}</td>
            </tr>
          ))}
        </Table>
      </section>

      <section class="panel" aria-labelledby="net-bridges">
        <h2 id="net-bridges">Bridges</h2>
        {(s.bridges ?? []).length === 0 ? (
          <p class="muted">No bridges.</p>
        ) : (
          <Table label={`Bridges of ${node}`} head={['Bridge', 'Members', 'Actions']}>
            {(s.bridges ?? []).map((b) => (
              <tr key={b.bridge}>
                <th scope="row">{b.bridge}</th>
                <td>
                  <ul class="members">
                    {b.members.map((m) => (
                      <li key={m}>
                        {m}{' '}
                        <button
                          type="button"
                          class="small"
                          aria-label={`Remove ${m} from ${b.bridge}`}
                          disabled={busy}
                          onClick={() =>
                            void change({
                              what: `remove ${m} from bridge ${b.bridge}`,
                              confirm: { title: `Remove ${m} from ${b.bridge}?`, body: <p>Traffic of {m} no longer goes through {b.bridge}.</p>, confirm: `Remove ${m}` },
                              call: (force) => oms.netinterfaceservices.delete_bridge_member(node, b.bridge, m, force),
                            })
                          }
                        >
                          Remove
                        </button>
                      </li>
                    ))}
                  </ul>
                </td>
                <td>
                  <button
                    type="button"
                    class="small"
                    aria-label={`Delete bridge ${b.bridge}`}
                    disabled={busy}
                    onClick={() =>
                      void change({
                        what: `delete bridge ${b.bridge}`,
                        confirm: { title: `Delete bridge ${b.bridge}?`, body: <p>The bridge goes from {node}; its members ({b.members.join(', ') || 'none'}) are released, guests on it lose their network.</p>, confirm: `Delete ${b.bridge}` },
                        call: (force) => oms.netinterfaceservices.delete_bridge(node, b.bridge, force),
                      })
                    }
                  >
                    Delete
                  </button>
                </td>
              </tr>
            ))}
          </Table>
        )}
        <form
          class="form-row"
          aria-label="Add a bridge"
          onSubmit={submit((f) => ({
            what: `add bridge ${field(f, 'name')}`,
            call: (force) => oms.netinterfaceservices.add_bridge(node, field(f, 'name'), field(f, 'ip'), field(f, 'netmask'), field(f, 'gateway'), force),
          }))}
        >
          <label>
            Bridge name
            <input name="name" required maxLength={15} autoComplete="off" />
          </label>
          <label>
            IPv4 address
            <input name="ip" required placeholder="192.0.2.1" autoComplete="off" />
          </label>
          <label>
            Netmask
            <input name="netmask" required placeholder="255.255.255.0" autoComplete="off" />
          </label>
          <label>
            Gateway (optional)
            <input name="gateway" placeholder="none" autoComplete="off" />
          </label>
          <button type="submit" disabled={busy}>
            Add bridge
          </button>
        </form>
        {(s.bridges ?? []).length ? (
          <form
            class="form-row"
            aria-label="Add a bridge member"
            onSubmit={submit((f) => ({
              what: `add ${field(f, 'member')} to bridge ${field(f, 'bridge')}`,
              call: (force) => oms.netinterfaceservices.add_bridge_member(node, field(f, 'bridge'), field(f, 'member'), force),
            }))}
          >
            <label>
              Bridge
              <select name="bridge">
                {(s.bridges ?? []).map((b) => (
                  <option key={b.bridge}>{b.bridge}</option>
                ))}
              </select>
            </label>
            <label>
              Interface to add
              <select name="member">
                {ifNames.map((n) => (
                  <option key={n}>{n}</option>
                ))}
              </select>
            </label>
            <button type="submit" disabled={busy}>
              Add member
            </button>
          </form>
        ) : null}
      </section>

      <section class="panel" aria-labelledby="net-gw">
        <h2 id="net-gw">Default gateway</h2>
        <p>{defaults.length ? defaults.map((r) => `via ${r.gateway} on ${r.interface}${r.metric ? ` (metric ${r.metric})` : ''}`).join('; ') : 'No default route.'}</p>
        <form
          class="form-row"
          aria-label="Change the default gateway"
          onSubmit={submit((f) => ({
            what: `set the default gateway to ${field(f, 'gateway')} on ${field(f, 'interface')}`,
            confirm: {
              title: `Change the default gateway of ${node}?`,
              body: (
                <p>
                  The default route becomes via {field(f, 'gateway')} on {field(f, 'interface')}, replacing {defaults[0] ? `via ${defaults[0].gateway} on ${defaults[0].interface}` : 'none'}.
                </p>
              ),
              confirm: 'Change the default gateway',
            },
            call: (force) => oms.netinterfaceservices.edit_static_gateway(node, field(f, 'gateway'), field(f, 'interface'), force),
          }))}
        >
          <label>
            Gateway
            <input name="gateway" required placeholder={defaults[0]?.gateway ?? '192.0.2.254'} autoComplete="off" />
          </label>
          <label>
            Interface
            <select name="interface">
              {ifNames.map((n) => (
                <option key={n} selected={n === defaults[0]?.interface}>
                  {n}
                </option>
              ))}
            </select>
          </label>
          <button type="submit" disabled={busy}>
            Set default gateway
          </button>
        </form>
      </section>

      <section class="panel" aria-labelledby="net-routes">
        <h2 id="net-routes">Routes (IPv4)</h2>
        <Table label={`IPv4 routes of ${node}`} head={['Destination', 'Gateway', 'Interface', 'Metric', 'Origin', 'Actions']}>
          {routes.map((r) => (
            <tr key={`${r.destination}/${r.prefix}/${r.gateway}/${r.interface}/${r.metric}`}>
              <th scope="row">{r.prefix === 0 ? 'default' : `${r.destination}/${r.prefix}`}</th>
              <td>{r.gateway ?? 'direct'}</td>
              <td>{r.interface}</td>
              <td>{r.metric}</td>
              <td>{r.protocol ?? 'static'}</td>
              <td>
                {r.protocol === 'kernel' ? (
                  <span class="muted">interface address</span>
                ) : (
                  <button
                    type="button"
                    class="small"
                    disabled={busy}
                    aria-label={`Delete route ${r.prefix === 0 ? 'default' : `${r.destination}/${r.prefix}`} on ${r.interface}`}
                    onClick={() =>
                      void change({
                        what: routeWhat(r),
                        confirm: { title: `Delete this route?`, body: <p>{routeWhat(r)} on {node}.</p>, confirm: 'Delete route' },
                        call: (force) => oms.netinterfaceservices.delete_static_route(node, r.destination, netmaskOf(r.prefix), r.gateway ?? '0.0.0.0', r.interface, force),
                      })
                    }
                  >
                    Delete
                  </button>
                )}
              </td>
            </tr>
          ))}
        </Table>
        <form
          class="form-row"
          aria-label="Add a static route"
          onSubmit={submit((f) => ({
            what: `add the route ${field(f, 'destination')}/${field(f, 'netmask')} via ${field(f, 'gateway') || 'the interface'} on ${field(f, 'interface')}`,
            call: (force) => oms.netinterfaceservices.add_static_route(node, field(f, 'destination'), field(f, 'netmask'), field(f, 'gateway') || '0.0.0.0', field(f, 'interface'), force),
          }))}
        >
          <label>
            Destination network
            <input name="destination" required placeholder="198.51.100.0" autoComplete="off" />
          </label>
          <label>
            Netmask
            <input name="netmask" required placeholder="255.255.255.0" autoComplete="off" />
          </label>
          <label>
            Gateway
            <input name="gateway" placeholder="direct" autoComplete="off" />
          </label>
          <label>
            Interface
            <select name="interface">
              {ifNames.map((n) => (
                <option key={n}>{n}</option>
              ))}
            </select>
          </label>
          <button type="submit" disabled={busy}>
            Add route
          </button>
        </form>
      </section>

      <section class="panel" aria-labelledby="net-libvirt">
        <h2 id="net-libvirt">libvirt networks</h2>
        {s.networksError ? (
          <p class="error">{s.networksError}</p>
        ) : (s.networks ?? []).length === 0 ? (
          <p class="muted">No libvirt networks.</p>
        ) : (
          <Table label={`libvirt networks of ${node}`} head={['Network', 'State', 'Forward', 'Bridge', 'Address', 'Actions']}>
            {(s.networks ?? []).map((n) => (
              <tr key={n.name}>
                <th scope="row">{n.name}</th>
                <td>
                  {n.active ? 'active' : 'inactive'}
                  {n.autostart ? ', autostart' : ''}
                </td>
                <td>
                  {n.forward ?? 'isolated'}
                  {n.vlans.length ? ` (VLAN ${n.vlans.join(', ')})` : ''}
                </td>
                <td>{n.bridge ?? '—'}</td>
                <td>{n.ip ? `${n.ip.address}/${n.ip.prefix}` : '—'}</td>
                <td>
                  <button
                    type="button"
                    class="small"
                    disabled={busy}
                    aria-label={`Delete network ${n.name}`}
                    onClick={() =>
                      void change({
                        what: `delete the libvirt network ${n.name}`,
                        confirm: { title: `Delete the libvirt network ${n.name}?`, body: <p>Guests whose NICs join {n.name} lose their network on their next start.</p>, confirm: `Delete ${n.name}` },
                        call: () => oms.kvmservices.delete_network(node, n.name),
                      })
                    }
                  >
                    Delete
                  </button>
                </td>
              </tr>
            ))}
          </Table>
        )}
        <form
          class="form-row"
          aria-label="Add a libvirt network"
          onSubmit={submit((f) => ({
            what: `add the libvirt network ${field(f, 'name')}`,
            call: () =>
              oms.kvmservices.create_network(node, field(f, 'name'), field(f, 'bridge'), field(f, 'forward') === 'nat' ? { forward: 'nat', ip: field(f, 'ip') || undefined } : { forward: 'bridge' }),
          }))}
        >
          <label>
            Network name
            <input name="name" required autoComplete="off" />
          </label>
          <label>
            Mode
            <select name="forward">
              <option value="bridge">bridged (existing host bridge)</option>
              <option value="nat">NAT (libvirt makes the bridge)</option>
            </select>
          </label>
          <label>
            Bridge
            <input name="bridge" required autoComplete="off" />
          </label>
          <label>
            Address/prefix (NAT)
            <input name="ip" placeholder="192.168.150.1/24" autoComplete="off" />
          </label>
          <button type="submit" disabled={busy}>
            Add network
          </button>
        </form>
      </section>
    </>
  );
}

export function Network() {
  const node = currentNode();
  useEffect(() => {
    const leave = listen(network);
    return () => {
      leave();
      network.clear();
    };
  }, []);
  useEffect(() => network.show(node), [node]);
  const [ask, dialog] = useConfirm();
  return (
    <section aria-labelledby="network-title">
      <h1 id="network-title">Network{node ? ` of ${node}` : ''}</h1>
      <NodePick screen="network" node={node} />
      {node ? <NodeNetwork key={node} node={node} ask={ask} /> : null}
      {dialog}
    </section>
  );
}
