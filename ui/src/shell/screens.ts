/**
 * The screens of the console, in the order the navigation shows them. Each screen is one entry:
 * its route id (the first segment of `#/id/...`), its label and its view. A screen's own files live
 * in a folder named after it (ui/src/<id>/), with its own CSS imported by its view.
 */
import type { JSX } from 'preact';
import { Create } from '../create/Create.tsx';
import { Fleet } from '../fleet/Fleet.tsx';
import { Guest } from '../guest/Guest.tsx';

export interface Screen {
  id: string;
  label: string;
  view: () => JSX.Element;
  /** Reached by links only (a guest's own view), not listed in the navigation. */
  hidden?: boolean;
}

export const screens: Screen[] = [
  { id: 'fleet', label: 'Fleet', view: Fleet },
  { id: 'create', label: 'Create', view: Create },
  { id: 'guest', label: 'Guest', view: Guest, hidden: true },
];
