/** The login screen: user and password; the gateway's refusal (wrong password, throttling) in words. */
import { useRef, useState } from 'preact/hooks';
import { errorText } from '../lib/client.ts';
import { login, session } from '../lib/session.ts';

export function Login() {
  const s = session.value;
  const notice = s.phase === 'out' ? s.notice : undefined;
  const [error, setError] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);
  const user = useRef<HTMLInputElement>(null);
  const password = useRef<HTMLInputElement>(null);

  const submit = async (ev: Event) => {
    ev.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      await login(user.current!.value, password.current!.value);
    } catch (e) {
      setError(errorText(e));
      password.current!.value = '';
      password.current!.focus();
    } finally {
      setBusy(false);
    }
  };

  return (
    <main id="main" class="login">
      <form onSubmit={submit} aria-labelledby="login-title">
        <h1 id="login-title">Log in to OMS</h1>
        {notice ? (
          <p role="status" class="notice">
            {notice}
          </p>
        ) : null}
        <label for="login-user">User</label>
        <input id="login-user" name="username" ref={user} autoComplete="username" required autoFocus />
        <label for="login-password">Password</label>
        <input id="login-password" name="password" ref={password} type="password" autoComplete="current-password" required />
        <button type="submit" disabled={busy}>
          {busy ? 'Logging in…' : 'Log in'}
        </button>
        <p role="alert" class="error" aria-live="assertive">
          {error ?? ''}
        </p>
      </form>
    </main>
  );
}
