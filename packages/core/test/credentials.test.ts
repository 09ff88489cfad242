import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { buildPlanContext } from '../src/config/plan-context';
import type { PlanContextDefaults } from '../src/config/plan-context';
import * as childProcess from 'child_process';
import { getentUserDatabase, readUserDatabase, resolveCredentials } from '../src/isolation';

/** A `getent` that knows one user only NSS has (LDAP, sssd): `ldapuser` is in no /etc/passwd. */
const FAKE_GETENT = `#!/bin/sh
case "$1 $2" in
  "passwd 0"|"passwd root") echo "root:x:0:0:root:/root:/bin/sh" ;;
  "passwd ldapuser"|"passwd 4242") echo "ldapuser:*:4242:4242:LDAP user:/home/ldap:/bin/sh" ;;
  "group 4242"|"group ldapgroup") echo "ldapgroup:*:4242:" ;;
  "group 5000"|"group ldapextra") echo "ldapextra:*:5000:ldapuser" ;;
  "initgroups ldapuser") echo "ldapuser              5000" ;;
  *) exit 2 ;;
esac
`;

describe('user and group lookup', () => {
  let dir: string;
  let fakeBin: string;
  let emptyBin: string;
  const savedPath = process.env.PATH;
  const defaults: PlanContextDefaults = { defaultUser: 'nobody', defaultGroup: 'nogroup', tmpdir: '/tmp' };

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'warden-nss-'));
    fakeBin = join(dir, 'bin');
    emptyBin = join(dir, 'empty');
    mkdirSync(fakeBin);
    mkdirSync(emptyBin);
    writeFileSync(join(fakeBin, 'getent'), FAKE_GETENT);
    chmodSync(join(fakeBin, 'getent'), 0o755);
  });
  afterEach(() => {
    process.env.PATH = savedPath;
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('finds an application user known only through NSS (getent), with its groups', () => {
    const db = getentUserDatabase({ PATH: fakeBin });
    const ctx = buildPlanContext('a', { type: 'external', executable: '/bin/true', user: 'ldapuser' }, defaults, db);
    expect(ctx.credentials).toEqual({ user: 'ldapuser', uid: 4242, group: 'ldapgroup', gid: 4242, groups: [4242, 5000], home: '/home/ldap' });
  });

  it('looks up numeric ids and explicit groups through getent too', () => {
    const db = getentUserDatabase({ PATH: fakeBin });
    expect(resolveCredentials('4242', 'ldapextra', db)).toEqual({
      user: 'ldapuser',
      uid: 4242,
      group: 'ldapextra',
      gid: 5000,
      groups: [5000],
      home: '/home/ldap',
    });
  });

  it('keeps the clear error for a user or group no source knows', () => {
    const app = { type: 'external', executable: '/bin/true' };
    for (const [db, user] of [
      [getentUserDatabase({ PATH: fakeBin }), 'ldapuser'],
      [readUserDatabase(), 'root'],
    ] as const) {
      expect(() => buildPlanContext('a', { ...app, user: 'ghost' }, defaults, db)).toThrow(
        expect.objectContaining({ message: 'User "ghost" is not found.', code: 'WARDEN_ERR_CREDENTIALS_USER', path: '/applications/a/user' }),
      );
      expect(() => buildPlanContext('a', { ...app, user, group: 'ghosts' }, defaults, db)).toThrow(
        expect.objectContaining({ message: 'Group "ghosts" is not found.', code: 'WARDEN_ERR_CREDENTIALS_GROUP', path: '/applications/a/group' }),
      );
    }
  });

  it('asks NSS in this process, as Unit does: what getent knows, found the same way, without a process per lookup', () => {
    // Every user and group of this host's database (all of its NSS sources), by name and by id, against getent's.
    const listed = (db: string) =>
      childProcess
        .execFileSync('getent', [db], { encoding: 'utf8' })
        .split('\n')
        .filter(Boolean)
        .map((l) => l.split(':'));
    const users = listed('passwd');
    const groups = listed('group');
    expect(users.length).toBeGreaterThan(0);
    // A getent first on PATH that notes each call (and answers as the real one): it must not be asked.
    const noting = join(dir, 'noting');
    mkdirSync(noting);
    const calls = join(dir, 'noting-calls');
    writeFileSync(calls, '');
    const real = childProcess.execFileSync('sh', ['-c', 'command -v getent'], { encoding: 'utf8' }).trim();
    writeFileSync(join(noting, 'getent'), `#!/bin/sh\necho "$*" >> ${calls}\nexec ${real} "$@"\n`);
    chmodSync(join(noting, 'getent'), 0o755);
    process.env.PATH = `${noting}:${savedPath}`;
    {
      const db = readUserDatabase();
      for (const [name, , uid, gid, , home] of users) {
        expect(db.user(name!)).toEqual({ name, uid: Number(uid), gid: Number(gid), home: home || '/' });
        expect(db.user(uid!)?.uid).toBe(Number(uid));
      }
      for (const [name, , gid, members] of groups) {
        expect(db.group(name!)).toEqual({ name, gid: Number(gid), members: members ? members.split(',') : [] });
        expect(db.group(gid!)?.gid).toBe(Number(gid));
      }
      expect(db.user('no-such-user-here')).toBeUndefined();
      expect(db.group('no-such-group-here')).toBeUndefined();
      const initgroups = childProcess.execFileSync('getent', ['initgroups', 'root'], { encoding: 'utf8' }).trim().split(/\s+/).slice(1).map(Number);
      expect(db.groupsOf('root', 0).sort()).toEqual([...new Set([0, ...initgroups])].sort());
      expect(resolveCredentials('root', undefined, db)).toMatchObject({ user: 'root', uid: 0, gid: 0 });
    }
    expect(readFileSync(calls, 'utf8')).toBe('');
  });

  it('falls back to /etc/passwd and /etc/group when there is no getent (and then misses NSS-only users)', () => {
    const db = getentUserDatabase({ PATH: emptyBin });
    expect(resolveCredentials('root', undefined, db)).toMatchObject({ user: 'root', uid: 0, gid: 0 });
    expect(() => resolveCredentials('ldapuser', undefined, db)).toThrow('User "ldapuser" is not found.');
  });
  it('reuses a found entry for a minute and asks again for a missing name after a second (getent is a process per lookup)', () => {
    const countingBin = join(dir, 'counting');
    mkdirSync(countingBin);
    const calls = join(dir, 'calls');
    writeFileSync(calls, '');
    writeFileSync(join(countingBin, 'getent'), FAKE_GETENT.replace('#!/bin/sh\n', `#!/bin/sh\necho "$1 $2" >> ${calls}\n`));
    chmodSync(join(countingBin, 'getent'), 0o755);
    const env = { PATH: `${countingBin}:${savedPath}` };
    const asked = (what: string) =>
      readFileSync(calls, 'utf8')
        .split('\n')
        .filter((l) => l === what).length;
    const now = jest.spyOn(Date, 'now');
    try {
      now.mockReturnValue(1_000_000);
      expect(getentUserDatabase(env).user('ldapuser')?.uid).toBe(4242);
      expect(getentUserDatabase(env).user('nosuchuser')).toBeUndefined();
      now.mockReturnValue(1_000_900);
      expect(getentUserDatabase(env).user('ldapuser')?.uid).toBe(4242);
      expect(getentUserDatabase(env).user('nosuchuser')).toBeUndefined();
      expect([asked('passwd ldapuser'), asked('passwd nosuchuser')]).toEqual([1, 1]);
      now.mockReturnValue(1_002_000); // a missing name is asked again (a user just added to LDAP), a found one is not
      getentUserDatabase(env).user('ldapuser');
      getentUserDatabase(env).user('nosuchuser');
      expect([asked('passwd ldapuser'), asked('passwd nosuchuser')]).toEqual([1, 2]);
      now.mockReturnValue(1_061_000); // a found one after a minute
      getentUserDatabase(env).user('ldapuser');
      expect(asked('passwd ldapuser')).toBe(2);
    } finally {
      now.mockRestore();
    }
  });
});
