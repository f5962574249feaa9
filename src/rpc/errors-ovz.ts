/** Error catalogue block: Containers (ovzservices, kvmplusovzservices): codes 700-799. Merged into the one catalogue in errors.ts. */
import { spec, type ErrorSpec } from './error-spec.ts';

export const ovzErrors = {
} as const satisfies Record<string, ErrorSpec>;

// Keeps the import used while the block is empty.
void spec;
