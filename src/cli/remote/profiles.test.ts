import { expect } from 'chai';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { configDir, currentProfile, profileName, readProfiles, removeProfile, saveProfile } from './profiles.ts';
import { CliError, EXIT } from './exit-codes.ts';

describe('oms login profiles (remote/profiles.ts)', () => {
  let home: string;
  beforeEach(() => (home = mkdtempSync(join(tmpdir(), 'oms-prof-'))));
  afterEach(() => rmSync(home, { recursive: true, force: true }));

  it('lives in $XDG_CONFIG_HOME/oms, else ~/.config/oms; a relative XDG_CONFIG_HOME is ignored as the spec says', () => {
    expect(configDir({ XDG_CONFIG_HOME: '/x/conf', HOME: '/h' })).to.equal('/x/conf/oms');
    expect(configDir({ HOME: '/h' })).to.equal('/h/.config/oms');
    expect(configDir({ XDG_CONFIG_HOME: 'rel', HOME: '/h' })).to.equal('/h/.config/oms');
  });

  it('stores URL and token owner-only (file 0600, directory 0700), even under a permissive umask', () => {
    const env = { XDG_CONFIG_HOME: home };
    const old = process.umask(0o000);
    try {
      saveProfile('default', { url: 'https://gw:8000', token: 'tok-1', tokenName: 'n', fingerprint: 'AA' }, env);
    } finally {
      process.umask(old);
    }
    expect(statSync(join(home, 'oms')).mode & 0o777).to.equal(0o700);
    expect(statSync(join(home, 'oms', 'config.json')).mode & 0o777).to.equal(0o600);
    expect(JSON.parse(readFileSync(join(home, 'oms', 'config.json'), 'utf8')).profiles.default.token).to.equal('tok-1');
  });

  it('picks --profile, else $OMS_PROFILE, else the file default, else "default"; refuses odd names', () => {
    const env = { XDG_CONFIG_HOME: home };
    saveProfile('lab', { url: 'https://a', token: 't1' }, env);
    saveProfile('prod', { url: 'https://b', token: 't2' }, env);
    const file = readProfiles(env);
    expect(file.default).to.equal('lab');
    expect(profileName(undefined, file, env)).to.equal('lab');
    expect(profileName(undefined, file, { ...env, OMS_PROFILE: 'prod' })).to.equal('prod');
    expect(profileName('x', file, { ...env, OMS_PROFILE: 'prod' })).to.equal('x');
    expect(profileName(undefined, { profiles: {} }, {})).to.equal('default');
    expect(() => profileName('../etc', file, env)).to.throw(CliError);
    expect(currentProfile('prod', env).profile.url).to.equal('https://b');
  });

  it('a missing profile is "not logged in" with the auth exit code; removing the default does not fall over to another gateway', () => {
    const env = { XDG_CONFIG_HOME: home };
    try {
      currentProfile(undefined, env);
      expect.fail('no error');
    } catch (e) {
      expect((e as CliError).exitCode).to.equal(EXIT.auth);
      expect((e as Error).message).to.match(/oms login/);
    }
    saveProfile('a', { url: 'https://a', token: 't' }, env);
    saveProfile('b', { url: 'https://b', token: 't' }, env);
    expect(removeProfile('a', env)).to.equal(true);
    expect(readProfiles(env).default).to.equal(undefined);
    expect(() => currentProfile(undefined, env)).to.throw(/not logged in/);
    expect(currentProfile('b', env).name).to.equal('b');
    expect(removeProfile('a', env)).to.equal(false);
  });

  it('a damaged file is a plain error naming it, not a stack trace', () => {
    mkdirSync(join(home, 'oms'));
    writeFileSync(join(home, 'oms', 'config.json'), '{nope');
    expect(() => readProfiles({ XDG_CONFIG_HOME: home })).to.throw(CliError, /config.json is not an oms profile file/);
  });
});
