/** Error catalogue block: Consoles: VNC, SSH and serial (kvmservices VNC methods, sshservices): codes 600-699. Merged into the one catalogue in errors.ts. */
import { spec, type ErrorSpec } from './error-spec.ts';

export const consoleErrors = {
} as const satisfies Record<string, ErrorSpec>;

// Keeps the import used while the block is empty.
void spec;
