// Shared by the console pages: where the credentials come from and where the websocket is.
//
// The pages are served in two kinds of places:
// - under /web-vnc/ on the gateway's own port, opened with ?ticket=... (get_vnc_ticket,
//   get_ssh_ticket, open_console) or with ?SESSID=...&port=...; then the page asks the gateway for
//   a ticket itself, and connects to /consoles/ws on its own origin;
// - at the root of a port of their own, where the OMS document opens them: the VNC page on the
//   page port (https://host:8002/vnc.html?SESSID=..&host=host&port=6801) connects to the spot's
//   port host:6801, and the terminal page on an SSH spot's port (https://host:6900/?SESSID=..)
//   to that same port; the spot accepts the session that reserved it (or a ticket).
// Either way the secrets leave the address bar at once: a ticket works only once, and a session id
// should not linger in history.

const onGateway = location.pathname.startsWith('/web-vnc/');

export function setState(state, text) {
  document.body.dataset.state = state;
  document.getElementById('status').textContent = text;
}

/** The websocket address of this page's console, with its credentials in the query. */
export async function consoleSocket(ticketMethod, extra = {}) {
  const q = new URLSearchParams(location.search);
  const ticket = q.get('ticket');
  const sessid = q.get('SESSID');
  const port = q.get('port');
  const host = q.get('host');
  history.replaceState(null, '', location.pathname + (q.get('title') ? `?title=${encodeURIComponent(q.get('title'))}` : ''));
  const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
  if (!onGateway) {
    if (!ticket && !sessid) throw new Error('no session: open this console from the management interface');
    const auth = ticket ? { ticket } : { SESSID: sessid };
    return `${scheme}://${spotAddress(host, port)}/?${new URLSearchParams({ ...auth, ...extra })}`;
  }
  const t = ticket || (await fetchTicket(ticketMethod, sessid, port));
  return `${scheme}://${location.host}/consoles/ws?${new URLSearchParams({ ticket: t, ...extra })}`;
}

async function fetchTicket(ticketMethod, sessid, port) {
  if (!sessid || !port) throw new Error('no ticket: open this console from the management interface');
  const res = await fetch('../jsonrpc', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: ticketMethod, params: [sessid, 0, Number(port)] }),
  });
  const answer = await res.json();
  if (answer.error) throw new Error(answer.error.message);
  const r = answer.result;
  const value = r && typeof r === 'object' && 'type' in r && 'result' in r ? r.result : r;
  return value.ticket;
}

/** host:port of the spot; absent parts are this page's own (the terminal page on its spot's port). */
function spotAddress(host, port) {
  const h = host || location.hostname;
  const p = port || location.port;
  if (!/^[A-Za-z0-9.-]{1,253}$/.test(h) && !/^\[?[0-9A-Fa-f:.]{2,45}\]?$/.test(h)) throw new Error('the console address has no valid host');
  if (!/^\d{1,5}$/.test(p) || Number(p) < 1 || Number(p) > 65535) throw new Error('the console address has no valid port');
  return `${h.includes(':') && !h.startsWith('[') ? `[${h}]` : h}:${p}`;
}
