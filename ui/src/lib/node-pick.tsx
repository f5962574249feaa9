/**
 * The node a per-node screen shows (`#/storage/<node>`, `#/network/<node>`, `#/node/<name>`):
 * a select of the signed nodes the fleet store knows, writing the choice into the address so a
 * reload or a bookmark lands on the same node.
 */
import { fleet } from '../fleet/store.ts';
import { route } from './router.ts';

/** `#/screen/node`: built by hand, as href() would encode the slash. */
export const nodeHref = (screen: string, node?: string): string => `#/${encodeURIComponent(screen)}${node ? `/${encodeURIComponent(node)}` : ''}`;

/** The node named in the address, or the first signed node. */
export function currentNode(): string | undefined {
  const named = route.value.rest[0];
  return named ?? fleet.names.value[0];
}

export function NodePick({ screen, node }: { screen: string; node: string | undefined }) {
  const names = fleet.names.value;
  return (
    <div class="node-pick">
      <label for={`${screen}-node`}>Node</label>
      <select
        id={`${screen}-node`}
        value={node ?? ''}
        onChange={(e) => {
          location.hash = nodeHref(screen, (e.target as HTMLSelectElement).value);
        }}
      >
        {node && !names.includes(node) ? <option value={node}>{node}</option> : null}
        {names.map((n) => (
          <option key={n} value={n}>
            {n}
          </option>
        ))}
      </select>
      {!fleet.loaded.value ? <span class="muted">Loading nodes…</span> : names.length === 0 ? <span class="muted">No signed nodes: enrol one on the Fleet screen.</span> : null}
    </div>
  );
}
