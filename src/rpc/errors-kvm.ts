/** Error catalogue block: KVM guests, libvirt networks (kvmservices): codes 500-599. Merged into the one catalogue in errors.ts. */
import { spec, type ErrorSpec } from './error-spec.ts';

export const kvmErrors = {
} as const satisfies Record<string, ErrorSpec>;

// Keeps the import used while the block is empty.
void spec;
