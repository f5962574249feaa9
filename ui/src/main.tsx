/** The OMS web console: login or the shell, by session. */
import { render } from 'preact';
import { Login } from './login/Login.tsx';
import { resume, session } from './lib/session.ts';
import { Shell } from './shell/Shell.tsx';
import './styles.css';
import './narrow.css';

function App() {
  const s = session.value;
  if (s.phase === 'checking') return <p class="loading">Loading…</p>;
  return s.phase === 'in' ? <Shell /> : <Login />;
}

render(<App />, document.getElementById('app')!);
void resume();
