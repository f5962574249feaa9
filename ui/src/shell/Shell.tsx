/**
 * The frame around every screen: skip link, navigation, the live/stale indicator, who is logged
 * in and logout. It starts following events while it is shown (that is: while logged in).
 */
import { useEffect } from 'preact/hooks';
import { fleet } from '../fleet/store.ts';
import { clock } from '../lib/format.ts';
import { follow, link, listen } from '../lib/live.ts';
import { href, route } from '../lib/router.ts';
import { logout, session } from '../lib/session.ts';
import { Palette } from '../palette/Palette.tsx';
import { TasksButton } from '../tasks/TasksPanel.tsx';
import { screens } from './screens.ts';

function LiveIndicator() {
  const l = link.value;
  const text = l.state === 'live' ? 'Live' : l.state === 'connecting' ? 'Connecting…' : `Stale since ${clock(l.since)}, reconnecting`;
  return (
    <p role="status" class={`live live-${l.state}`} title={l.state === 'stale' ? l.reason : undefined}>
      <span class="dot" aria-hidden="true" />
      {text}
    </p>
  );
}

export function Shell() {
  useEffect(() => {
    const leave = listen(fleet);
    const stop = follow();
    return () => {
      stop();
      leave();
      fleet.clear();
    };
  }, []);
  const s = session.value;
  const current = screens.find((x) => x.id === route.value.screen);
  const View = current?.view;
  return (
    <>
      <a
        class="skip"
        href="#main"
        onClick={(e) => {
          // The hash is the route: move focus without navigating.
          e.preventDefault();
          document.getElementById('main')?.focus();
        }}
      >
        Skip to content
      </a>
      <header class="top">
        <span class="brand">OMS</span>
        <nav aria-label="Main">
          <ul>
            {screens.filter((x) => !x.hidden).map((x) => (
              <li key={x.id}>
                <a href={href(x.id)} aria-current={x.id === current?.id ? 'page' : undefined}>
                  {x.label}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <Palette />
        <LiveIndicator />
        <TasksButton />
        <span class="user">{s.phase === 'in' ? s.user : ''}</span>
        <button type="button" onClick={() => void logout()}>
          Log out
        </button>
      </header>
      <main id="main" tabIndex={-1}>
        {View ? (
          <View />
        ) : (
          <section>
            <h1>Not found</h1>
            <p>
              There is no screen “{route.value.screen}” (yet). <a href={href('fleet')}>Go to the fleet</a>.
            </p>
          </section>
        )}
      </main>
    </>
  );
}
