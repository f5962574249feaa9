/** The guest's VNC and serial consoles: the gateway's own console pages, embedded. */
import { useSignal } from '@preact/signals';
import { errorText, oms } from '../lib/client.ts';
import { lostSession } from '../lib/session.ts';
import type { GuestStore } from './store.ts';

/** A console page of the gateway (vnc.html, terminal.html) in a frame, opened with a single-use ticket. */
export function ConsoleSection({ g }: { g: GuestStore }) {
  const vnc = useSignal<string | undefined>(undefined);
  const serial = useSignal<string | undefined>(undefined);
  const problem = useSignal<string | undefined>(undefined);
  const running = g.state.value.value?.state === 'RUNNING' || g.state.value.value?.state === 'PAUSED';
  const open = async (kind: 'vnc' | 'serial') => {
    problem.value = undefined;
    try {
      if (kind === 'vnc') {
        const port = Number(await oms.kvmservices.set_up_vnc_connection(g.node, g.name));
        vnc.value = ((await oms.kvmservices.get_vnc_ticket(port)) as { url: string }).url;
      } else {
        serial.value = ((await oms.kvmservices.open_console(g.node, g.name)) as { url: string }).url;
      }
    } catch (e) {
      if (!lostSession(e)) problem.value = errorText(e);
    }
  };
  return (
    <section aria-labelledby="g-console" class="card wide">
      <h2 id="g-console">Consoles</h2>
      <div class="actions">
        {vnc.value ? (
          <button type="button" onClick={() => (vnc.value = undefined)}>
            Close VNC console
          </button>
        ) : (
          <button type="button" disabled={!running} onClick={() => void open('vnc')}>
            Open VNC console
          </button>
        )}
        {serial.value ? (
          <button type="button" onClick={() => (serial.value = undefined)}>
            Close serial console
          </button>
        ) : (
          <button type="button" disabled={!running} onClick={() => void open('serial')}>
            Open serial console
          </button>
        )}
      </div>
      {!running ? <p class="hint">The consoles open while the guest runs.</p> : null}
      {problem.value ? (
        <p role="alert" class="error">
          {problem.value}
        </p>
      ) : null}
      {vnc.value ? <iframe class="console-frame" src={vnc.value} title={`VNC console of ${g.name}`} /> : null}
      {serial.value ? <iframe class="console-frame serial" src={serial.value} title={`Serial console of ${g.name}`} /> : null}
    </section>
  );
}
