/**
 * The administration screen: users, groups, roles and grants, the caller's API tokens, the audit
 * log, one tab each (`#/admin/users`, ...). What a user may not read (list_users needs user.admin)
 * shows the gateway's refusal in its place; tokens are everyone's own.
 */
import { useEffect } from 'preact/hooks';
import { listen } from '../lib/live.ts';
import { route } from '../lib/router.ts';
import { Audit } from './Audit.tsx';
import { PathChoices } from './fields.tsx';
import { Grants } from './Grants.tsx';
import { Groups } from './Groups.tsx';
import { admin } from './store.ts';
import { Tokens } from './Tokens.tsx';
import { Users } from './Users.tsx';
import './admin.css';

const tabs = [
  { id: 'users', label: 'Users', view: Users },
  { id: 'groups', label: 'Groups', view: Groups },
  { id: 'grants', label: 'Roles and grants', view: Grants },
  { id: 'tokens', label: 'API tokens', view: Tokens },
  { id: 'audit', label: 'Audit log', view: Audit },
];

export function Admin() {
  useEffect(() => {
    const leave = listen(admin);
    // listen() lists only when the stream is live; the screen should not wait for that.
    admin.relist();
    return () => {
      leave();
      admin.clear();
    };
  }, []);
  const tab = tabs.find((t) => t.id === route.value.rest[0]) ?? tabs[0];
  const View = tab.view;
  return (
    <section aria-labelledby="adm-title" class="adm">
      <h1 id="adm-title">Administration</h1>
      <nav aria-label="Administration">
        <ul class="adm-tabs">
          {tabs.map((t) => (
            <li key={t.id}>
              <a href={`#/admin/${t.id}`} aria-current={t.id === tab.id ? 'page' : undefined}>
                {t.label}
              </a>
            </li>
          ))}
        </ul>
      </nav>
      <PathChoices />
      <View />
    </section>
  );
}
