/**
 * Asking before a destructive change: a modal <dialog> (the browser traps focus in it, Escape
 * cancels, focus returns to the button that opened it). `const [ask, dialog] = useConfirm()`,
 * render `dialog`, then `if (await ask({...}))`.
 */
import type { ComponentChildren, JSX } from 'preact';
import { useCallback, useEffect, useId, useRef, useState } from 'preact/hooks';

export interface Ask {
  title: string;
  body: ComponentChildren;
  /** The confirming button's words: what it does ("Remove omsnode5"). */
  confirm: string;
}

type Open = Ask & { done: (ok: boolean) => void };

export function useConfirm(): [(a: Ask) => Promise<boolean>, JSX.Element | null] {
  const [open, setOpen] = useState<Open | null>(null);
  const ask = useCallback(
    (a: Ask) =>
      new Promise<boolean>((resolve) =>
        setOpen({
          ...a,
          done: (ok) => {
            setOpen(null);
            resolve(ok);
          },
        }),
      ),
    [],
  );
  return [ask, open ? <ConfirmDialog {...open} /> : null];
}

function ConfirmDialog({ title, body, confirm, done }: Open) {
  const ref = useRef<HTMLDialogElement>(null);
  const id = useId();
  useEffect(() => {
    const d = ref.current!;
    const back = document.activeElement as HTMLElement | null;
    d.showModal();
    return () => back?.focus?.();
  }, []);
  return (
    <dialog
      ref={ref}
      class="confirm"
      aria-labelledby={`${id}-t`}
      onCancel={(e) => {
        e.preventDefault();
        done(false);
      }}
    >
      <h2 id={`${id}-t`}>{title}</h2>
      <div class="confirm-body">{body}</div>
      <div class="actions">
        <button type="button" autoFocus onClick={() => done(false)}>
          Cancel
        </button>
        <button type="button" class="danger" onClick={() => done(true)}>
          {confirm}
        </button>
      </div>
    </dialog>
  );
}
