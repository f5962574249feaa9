/**
 * The screens of the console, in the order the navigation shows them. Each screen is one entry:
 * its route id (the first segment of `#/id/...`), its label and its view. A screen's own files live
 * in a folder named after it (ui/src/<id>/), with its own CSS imported by its view.
 */
import type { JSX } from 'preact';
import { Admin } from '../admin/Admin.tsx';
import { Fleet } from '../fleet/Fleet.tsx';

export interface Screen {
  id: string;
  label: string;
  view: () => JSX.Element;
}

export const screens: Screen[] = [
  { id: 'fleet', label: 'Fleet', view: Fleet },
  { id: 'admin', label: 'Administration', view: Admin },
];
