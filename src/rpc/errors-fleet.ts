/** Error catalogue block: Fleet-wide calls, bulk actions, resource pools and placement (fleetservices): codes 1100-1199. Merged into the one catalogue in errors.ts. */
import { spec, type ErrorSpec } from './error-spec.ts';

export const fleetErrors = {
  FleetSelectorError: spec(1100, 'Bad selector {selector}: {reason}'),
  // A selector that matches nothing is refused, so a typo never reads as "done on every target".
  FleetNoMatchError: spec(1101, 'Selector {selector} matches no {targets}'),
  FleetMethodError: spec(1102, '{method} cannot be run over {targets}: {reason}'),
  UnknownPoolError: spec(1110, 'Unknown pool: {pool}'),
  PoolExistsError: spec(1111, 'Pool already exists: {pool}'),
  PoolNotEmptyError: spec(1112, 'Pool {pool} still has {count} member(s); remove them first'),
  UnknownGuestError: spec(1113, 'No {kind} guest {guest} on {node} that you may see'),
  NotPoolMemberError: spec(1114, '{kind} guest {guest} on {node} is not in pool {pool}'),
  PlacementError: spec(1120, 'No node to place on: {reason}'),
} as const satisfies Record<string, ErrorSpec>;
