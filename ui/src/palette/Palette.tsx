/**
 * The command palette: `/` (when not typing in a field) or Ctrl-K (Cmd-K) opens it from anywhere
 * in the console; typing narrows screens, nodes, guests and actions; arrow keys move, Enter goes,
 * Escape closes and gives focus back. A modal dialog holding a combobox and its listbox (the ARIA
 * pattern), so a screen reader hears the active option as it moves.
 */
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { listen } from '../lib/live.ts';
import { fixedItems, guestEvents, loadGuests, match, type Item } from './items.ts';
import './palette.css';

const typing = (el: Element | null) => !!el && (el.matches('input, textarea, select, [contenteditable=""], [contenteditable="true"]') || !!el.closest('[role="dialog"]'));

function Dialog({ close }: { close: () => void }) {
  const [text, setText] = useState('');
  const [active, setActive] = useState(0);
  const [guests, setGuests] = useState<Item[]>([]);
  const input = useRef<HTMLInputElement>(null);
  const fixed = useMemo(fixedItems, []);

  useEffect(() => {
    input.current?.focus();
    const ctl = new AbortController();
    void loadGuests((more) => setGuests((g) => [...g, ...more]), ctl.signal);
    return () => ctl.abort();
  }, []);

  const shown = match([...fixed, ...guests], text);
  const at = Math.min(active, Math.max(shown.length - 1, 0));
  const current = shown[at];

  useEffect(() => {
    if (current) document.getElementById(`pal-${current.id}`)?.scrollIntoView({ block: 'nearest' });
  }, [current?.id]);

  const choose = (it: Item | undefined) => {
    if (!it) return;
    close();
    if (typeof it.go === 'string') location.hash = it.go;
    else it.go();
  };

  const onKey = (ev: KeyboardEvent) => {
    const move = (to: number) => (ev.preventDefault(), setActive(shown.length ? (to + shown.length) % shown.length : 0));
    if (ev.key === 'ArrowDown') move(at + 1);
    else if (ev.key === 'ArrowUp') move(at - 1);
    else if (ev.key === 'Home' && ev.ctrlKey) move(0);
    else if (ev.key === 'End' && ev.ctrlKey) move(shown.length - 1);
    else if (ev.key === 'Enter') (ev.preventDefault(), choose(current));
    else if (ev.key === 'Escape') (ev.preventDefault(), close());
    else if (ev.key === 'Tab') ev.preventDefault(); // the input is the dialog's one stop: focus stays inside
  };

  return (
    <div class="pal-backdrop" onMouseDown={(e) => e.target === e.currentTarget && close()}>
      <div class="pal" role="dialog" aria-modal="true" aria-labelledby="pal-title">
        <h2 id="pal-title" class="visually-hidden">
          Command palette
        </h2>
        <input
          ref={input}
          role="combobox"
          aria-label="Jump to a screen, node, guest or action"
          aria-expanded="true"
          aria-controls="pal-list"
          aria-autocomplete="list"
          aria-activedescendant={current ? `pal-${current.id}` : undefined}
          placeholder="Jump to… (a node, guest, screen or action)"
          value={text}
          autoComplete="off"
          spellcheck={false}
          onInput={(e) => (setText((e.currentTarget as HTMLInputElement).value), setActive(0))}
          onKeyDown={onKey}
        />
        <ul id="pal-list" role="listbox" aria-label="Matches">
          {shown.map((it, i) => (
            <li
              key={it.id}
              id={`pal-${it.id}`}
              role="option"
              aria-selected={i === at}
              class={i === at ? 'active' : undefined}
              onMouseDown={(e) => e.preventDefault()}
              onClick={() => choose(it)}
              onMouseMove={() => i !== at && setActive(i)}
            >
              <span class="pal-kind">{it.kind}</span>
              <span class="pal-label">{it.label}</span>
              {it.detail ? <span class="pal-detail">on {it.detail}</span> : null}
            </li>
          ))}
        </ul>
        <p class="pal-foot" role="status">
          {shown.length ? `${shown.length} ${shown.length === 1 ? 'match' : 'matches'}` : 'Nothing matches.'} ↑↓ to move, Enter to go, Esc to close.
        </p>
      </div>
    </div>
  );
}

/** The palette's button for the header, and the dialog while it is open. */
export function Palette() {
  const [open, setOpen] = useState(false);
  const back = useRef<Element | null>(null);
  const show = () => {
    back.current = document.activeElement;
    setOpen(true);
  };
  const close = () => {
    setOpen(false);
    (back.current as HTMLElement | null)?.focus?.();
  };

  // While logged in: a guest list kept from an earlier opening is dropped when guests change.
  useEffect(() => listen(guestEvents), []);

  useEffect(() => {
    const onKey = (ev: KeyboardEvent) => {
      if (ev.defaultPrevented || ev.altKey) return;
      const k = ev.key.toLowerCase();
      if ((ev.ctrlKey || ev.metaKey) && k === 'k') {
        ev.preventDefault();
        if (!document.querySelector('.pal')) show();
      } else if (k === '/' && !ev.ctrlKey && !ev.metaKey && !typing(document.activeElement)) {
        ev.preventDefault();
        show();
      }
    };
    addEventListener('keydown', onKey);
    return () => removeEventListener('keydown', onKey);
  }, []);

  return (
    <>
      <button type="button" class="pal-open" aria-haspopup="dialog" aria-keyshortcuts="/ Control+K" onClick={show}>
        <span class="pal-text">Jump to…</span> <kbd aria-hidden="true">/</kbd>
      </button>
      {open ? <Dialog close={close} /> : null}
    </>
  );
}
