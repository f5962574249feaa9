// The VNC page: noVNC (served from the npm package at ./novnc/) against the gateway's console
// websocket (connect.js says where that is). Guest VNC passwords: noVNC asks for one when the
// server wants it; a front-end that knows it may pass it in the fragment (#password=...), which
// never reaches a server.
import RFB from './novnc/core/rfb.js';
import { consoleSocket, setState } from './connect.js';

const fragment = new URLSearchParams(location.hash.slice(1));
const knownPassword = fragment.get('password');
if (location.hash) history.replaceState(null, '', location.pathname + location.search);

async function main() {
  let url;
  try {
    url = await consoleSocket('kvmservices.get_vnc_ticket');
  } catch (e) {
    setState('failed', String(e.message || e));
    return;
  }
  const rfb = new RFB(document.getElementById('screen'), url, knownPassword ? { credentials: { password: knownPassword } } : {});
  rfb.scaleViewport = true;
  rfb.focusOnClick = true;
  window.omsRfb = rfb;
  rfb.addEventListener('connect', () => {
    setState('connected', 'Connected');
    rfb.focus();
  });
  rfb.addEventListener('disconnect', (ev) => setState('disconnected', ev.detail.clean ? 'Disconnected' : 'Connection lost'));
  rfb.addEventListener('securityfailure', (ev) => setState('failed', `Authentication failed${ev.detail.reason ? `: ${ev.detail.reason}` : ''}`));
  rfb.addEventListener('desktopname', (ev) => (document.title = ev.detail.name));
  rfb.addEventListener('credentialsrequired', () => {
    const form = document.getElementById('password');
    setState('password', 'Password required');
    form.hidden = false;
    form.elements.password.focus();
    form.onsubmit = (ev) => {
      ev.preventDefault();
      form.hidden = true;
      setState('connecting', 'Connecting…');
      rfb.sendCredentials({ password: form.elements.password.value });
      form.elements.password.value = '';
    };
  });
}

main();
