/**
 * The node's SSH shell, embedded: the gateway's own xterm.js terminal page (web-vnc/terminal.html)
 * in a frame, opened with a single-use ticket (sshservices.set_up_ssh_connection, then
 * get_ssh_ticket). Closing it, or leaving the node view, removes this session's SSH connections.
 */
import { useEffect, useState } from 'preact/hooks';
import { errorText, oms } from '../lib/client.ts';
import { lostSession } from '../lib/session.ts';

export function Terminal({ node }: { node: string }) {
  const [url, setUrl] = useState<string | undefined>();
  const [error, setError] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);
  const close = () => setUrl(undefined);
  // When the frame goes (closed, or the view left), its connection goes too; the page in it disconnects.
  useEffect(() => () => void (url && oms.sshservices.remove_session_ssh_connections().catch(() => undefined)), [url]);
  const open = async () => {
    setBusy(true);
    setError(undefined);
    try {
      const port = Number(await oms.sshservices.set_up_ssh_connection(node));
      const t = (await oms.sshservices.get_ssh_ticket(port)) as { url: string };
      setUrl(t.url);
    } catch (e) {
      if (!lostSession(e)) setError(errorText(e));
    } finally {
      setBusy(false);
    }
  };
  return (
    <section class="panel" aria-labelledby="node-term">
      <h2 id="node-term">SSH terminal</h2>
      {url ? (
        <>
          <iframe class="terminal" src={url} title={`SSH terminal on ${node}`} referrerpolicy="no-referrer" />
          <div class="actions start">
            <button type="button" onClick={close}>
              Close terminal
            </button>
          </div>
        </>
      ) : (
        <button type="button" class="primary" disabled={busy} onClick={() => void open()}>
          {busy ? 'Opening…' : `Open a shell on ${node}`}
        </button>
      )}
      <p role="alert" class="error">
        {error ?? ''}
      </p>
    </section>
  );
}
