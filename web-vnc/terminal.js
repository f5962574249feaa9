// The terminal page: xterm.js (served from the npm package) against the gateway's console
// websocket. Binary frames carry terminal bytes both ways; a text frame {"resize":[cols,rows]}
// tells the gateway the window size.
import { Terminal } from './xterm/lib/xterm.mjs';
import { FitAddon } from './xterm-fit/addon-fit.mjs';
import { consoleSocket, setState } from './connect.js';

async function main() {
  const term = new Terminal({ cursorBlink: true, scrollback: 5000, fontSize: 14 });
  const fit = new FitAddon();
  term.loadAddon(fit);
  term.open(document.getElementById('screen'));
  fit.fit();
  window.omsTerm = term;

  let url;
  try {
    url = await consoleSocket('sshservices.get_ssh_ticket', { cols: String(term.cols), rows: String(term.rows) });
  } catch (e) {
    setState('failed', String(e.message || e));
    return;
  }
  const ws = new WebSocket(url);
  ws.binaryType = 'arraybuffer';
  const encoder = new TextEncoder();
  ws.onopen = () => {
    setState('connected', 'Connected');
    term.focus();
  };
  ws.onmessage = (ev) => {
    if (ev.data instanceof ArrayBuffer) term.write(new Uint8Array(ev.data));
  };
  ws.onclose = (ev) => setState('disconnected', ev.code === 4002 ? `Could not open: ${ev.reason}` : 'Disconnected');
  term.onData((data) => {
    if (ws.readyState === WebSocket.OPEN) ws.send(encoder.encode(data));
  });
  term.onBinary((data) => {
    if (ws.readyState === WebSocket.OPEN) ws.send(Uint8Array.from(data, (c) => c.charCodeAt(0)));
  });
  term.onResize(({ cols, rows }) => {
    if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ resize: [cols, rows] }));
  });
  window.addEventListener('resize', () => fit.fit());
}

main();
