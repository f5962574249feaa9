/**
 * The screens of the console, in the order the navigation shows them. Each screen is one entry:
 * its route id (the first segment of `#/id/...`), its label and its view. A screen's own files live
 * in a folder named after it (ui/src/<id>/), with its own CSS imported by its view.
 */
import type { JSX } from 'preact';
import { Admin } from '../admin/Admin.tsx';
import { Create } from '../create/Create.tsx';
import { Fleet } from '../fleet/Fleet.tsx';
import { Guest } from '../guest/Guest.tsx';
import { Guests } from '../guests/Guests.tsx';
import { Network } from '../network/Network.tsx';
import { NodeView } from '../node/NodeView.tsx';
import { Storage } from '../storage/Storage.tsx';

export interface Screen {
  id: string;
  label: string;
  view: () => JSX.Element;
  /** Reached by links only (a guest's own view), not listed in the navigation. */
  hidden?: boolean;
}

export const screens: Screen[] = [
  { id: 'fleet', label: 'Fleet', view: Fleet },
  { id: 'guests', label: 'Guests', view: Guests },
  { id: 'create', label: 'Create', view: Create },
  { id: 'storage', label: 'Storage', view: Storage },
  { id: 'network', label: 'Network', view: Network },
  { id: 'node', label: 'Node', view: NodeView },
  { id: 'admin', label: 'Administration', view: Admin },
  { id: 'guest', label: 'Guest', view: Guest, hidden: true },
];
