/** The typed client for a stored profile: its URL, token and pinned certificate. */
import { OmsClient } from '../../../clients/typescript/src/index.ts';
import { currentProfile, type Profile } from './profiles.ts';

export interface Remote {
  client: OmsClient;
  profileName: string;
  profile: Profile;
}

export function clientFor(profile: Profile, transport: 'http' | 'ws' = 'http'): OmsClient {
  return new OmsClient({ url: profile.url, token: profile.token, fingerprint: profile.fingerprint, ca: profile.ca, transport });
}

export function remote(profileFlag: string | undefined, transport: 'http' | 'ws' = 'http'): Remote {
  const { name, profile } = currentProfile(profileFlag);
  return { client: clientFor(profile, transport), profileName: name, profile };
}
