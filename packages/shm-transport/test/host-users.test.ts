import { execFileSync } from 'child_process';
import { hostUserDatabase } from '../src';

/** getent's view of one database: each line split at ':'. */
const getent = (...args: string[]): string[][] =>
  execFileSync('getent', args, { encoding: 'utf8' })
    .split('\n')
    .filter(Boolean)
    .map((l) => l.split(':'));

describe('hostUserDatabase (getpwnam_r, getgrnam_r, getgrouplist in this process)', () => {
  const db = hostUserDatabase()!;

  it('is there with this build of the addon', () => {
    expect(db).toBeDefined();
  });

  it('finds every user and group getent lists, by name and by id, as getent gives them', () => {
    const users = getent('passwd');
    expect(users.length).toBeGreaterThan(0);
    for (const [name, , uid, gid, , home] of users) {
      expect(db.user(name!)).toEqual({ name, uid: Number(uid), gid: Number(gid), home });
      expect(db.user(uid!)?.uid).toBe(Number(uid));
    }
    for (const [name, , gid, members] of getent('group')) {
      expect(db.group(name!)).toEqual({ name, gid: Number(gid), members: members ? members.split(',') : [] });
      expect(db.group(gid!)?.gid).toBe(Number(gid));
    }
  });

  it('answers undefined for a name or id no source knows', () => {
    const uids = new Set(getent('passwd').map((u) => Number(u[2])));
    const gids = new Set(getent('group').map((g) => Number(g[2])));
    let free = 3_999_999;
    while (uids.has(free) || gids.has(free)) free++;
    expect(db.user('no-such-user-here')).toBeUndefined();
    expect(db.user(String(free))).toBeUndefined();
    expect(db.group('no-such-group-here')).toBeUndefined();
    expect(db.group(String(free))).toBeUndefined();
  });

  it("gives a user's groups as getgrouplist does: the base group first, then every group listing the user", () => {
    for (const [name, , , gid] of getent('passwd').slice(0, 20)) {
      const listed = execFileSync('getent', ['initgroups', name!], { encoding: 'utf8' }).trim().split(/\s+/).slice(1).map(Number);
      const groups = db.groupsOf(name!, Number(gid));
      expect(groups[0]).toBe(Number(gid));
      expect([...groups].sort()).toEqual([...new Set([Number(gid), ...listed])].sort());
    }
  });
});
