/** Error catalogue block: Host services (netinterfaceservices, lvmservices, isoservices): codes 800-899. Merged into the one catalogue in errors.ts. */
import { spec, type ErrorSpec } from './error-spec.ts';

export const hostErrors = {
} as const satisfies Record<string, ErrorSpec>;

// Keeps the import used while the block is empty.
void spec;
