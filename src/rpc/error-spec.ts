/** The shape of a catalogue entry; see errors.ts for the catalogue itself. */
export interface ErrorSpec {
  readonly code: number;
  readonly origin: 1 | 2;
  /** Template; `{name}` placeholders are filled from the error's vars. */
  readonly message: string;
}

export const spec = (code: number, message: string, origin: 1 | 2 = 2): ErrorSpec => ({ code, origin, message });
