// Shared by the console pages: where the ticket comes from and where the websocket is.
//
// A page is opened either with ?ticket=... (from get_vnc_ticket, get_ssh_ticket or open_console)
// or, as the OMS document has it, with ?SESSID=...&port=...; then the page asks the gateway for a
// ticket itself. Either way the secrets are taken out of the address bar at once: a ticket works
// only once, and a session id should not linger in history.

export function setState(state, text) {
  document.body.dataset.state = state;
  document.getElementById('status').textContent = text;
}

export async function takeTicket(ticketMethod) {
  const q = new URLSearchParams(location.search);
  const ticket = q.get('ticket');
  const sessid = q.get('SESSID');
  const port = q.get('port');
  history.replaceState(null, '', location.pathname + (q.get('title') ? `?title=${encodeURIComponent(q.get('title'))}` : ''));
  if (ticket) return ticket;
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

export function socketUrl(ticket, extra = {}) {
  const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
  return `${scheme}://${location.host}/consoles/ws?${new URLSearchParams({ ticket, ...extra })}`;
}
