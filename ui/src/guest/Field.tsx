/** Form fields with the gateway's per-field errors, shared by the guest view and Create. */

/** A labelled input whose error, when the gateway names this field, is tied to it (aria-describedby). */
export function Field(props: {
  id: string;
  label: string;
  error?: string;
  hint?: string;
  value: string;
  onInput: (e: { currentTarget: HTMLInputElement }) => void;
  inputMode?: 'numeric' | 'decimal';
  /** A password: typed unseen, never offered for autofill. */
  secret?: boolean;
}) {
  const { id, label, error, hint, secret, ...input } = props;
  const described = [hint ? `${id}-hint` : '', error ? `${id}-err` : ''].filter(Boolean).join(' ') || undefined;
  return (
    <div class="field">
      <label for={id}>{label}</label>
      {secret ? (
        <input id={id} type="password" autoComplete="new-password" aria-invalid={error ? true : undefined} aria-describedby={described} {...input} />
      ) : (
        <input id={id} type="text" aria-invalid={error ? true : undefined} aria-describedby={described} {...input} />
      )}
      {hint ? (
        <span id={`${id}-hint`} class="hint">
          {hint}
        </span>
      ) : null}
      {error ? (
        <span id={`${id}-err`} class="field-error">
          {error}
        </span>
      ) : null}
    </div>
  );
}

/** Per-field messages from ParameterMismatch's details ({params: [{param, reason}]}), when it has them. */
export function fieldErrors(e: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  const params = ((e as { details?: { params?: { param: string; reason: string }[] } })?.details?.params ?? []) as { param: string; reason: string }[];
  for (const p of params) out[p.param.split('.').pop()!] = p.reason;
  return out;
}
