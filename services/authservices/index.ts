/** AuthService: sessions for every other call. */
import { z } from 'zod';
import { method, service } from '../../src/rpc/declare.ts';
import { oms } from '../../src/rpc/errors.ts';
import { decoyHash, verifyPassword } from '../../src/auth/passwords.ts';

// Deliberately loose: a login form may send anything, and a pattern error would tell a guesser
// which names cannot exist. Unknown users fail exactly like wrong passwords.
const anyName = z.string().min(1).max(256);
const anyPassword = z.string().max(4096);

export const authservices = service({
  name: 'authservices',
  aliases: ['auth', 'AuthService'],
  description: 'Authentication: sessions (SESSID) used by every other service.',
  envelope: 'oms',
  resultType: 'auth',
  methods: [
    method({
      name: 'authenticate',
      description: 'Checks a user name and password and returns a new session id (SESSID, 160 random bits). Failures are throttled per user and per address.',
      auth: 'public',
      permission: 'public',
      mutates: true,
      secretParams: ['password'],
      result: z.string(),
      params: [
        { name: 'username', schema: anyName },
        { name: 'password', schema: anyPassword },
      ] as const,
      async run(ctx, { username, password }) {
        const { throttle, users, sessions } = ctx.app;
        const keys = [`user:${username}`, ...(ctx.remote ? [`addr:${ctx.remote}`] : [])];
        const wait = throttle.waitFor(keys);
        if (wait > 0) throw oms('AuthError', { reason: `Too many failed attempts; try again in ${wait} s` }, { retryAfter: wait });
        const user = users.find(username);
        // Verify against a decoy for unknown users so timing does not reveal which names exist.
        const ok = await verifyPassword(password, user?.password_hash ?? (await decoyHash()));
        if (!user || !ok || user.disabled) {
          throttle.fail(keys);
          throw oms('AuthError', { reason: 'Authentication failed' });
        }
        throttle.succeed(keys);
        return sessions.create(user.id, ctx.remote);
      },
    }),
    method({
      name: 'deauthenticate',
      description: 'Ends a session. DeathError when the session does not exist (anymore).',
      auth: 'public',
      permission: 'public',
      mutates: true,
      secretParams: ['SESSID'],
      params: [{ name: 'SESSID', schema: z.string().max(200), optional: true }] as const,
      result: z.literal(0),
      run(ctx, { SESSID }) {
        const secret = SESSID ?? ctx.secret;
        if (!secret || !ctx.app.sessions.destroy(secret)) throw oms('DeathError');
        return 0;
      },
    }),
    method({
      name: 'checksessid',
      description: 'Returns 0 when the session is valid; AuthError otherwise.',
      auth: 'sessionOnly',
      permission: 'authenticated',
      params: [] as const,
      result: z.literal(0),
      run: () => 0,
    }),
  ],
});
