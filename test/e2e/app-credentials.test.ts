import { execFileSync } from 'child_process';
import { readFileSync } from 'fs';
import { join } from 'path';
import { ROOT, cleanup, freePort, goBuild, haveGo, http, isRoot, startWardend, worldDir, type Wardend } from './support/wardend';

/**
 * An app's `user` without isolation gets that user's supplementary groups, as Unit gives them (nxt_process_creds_set:
 * getgrouplist of the user and the app's group): files shared through a group are readable by the app. They were
 * dropped (setgroups(0), as libuv does), while an app with `isolation` had them.
 */
function userWithGroups(): { name: string; groups: number[] } | null {
  for (const line of readFileSync('/etc/passwd', 'utf8').split('\n')) {
    const name = line.split(':')[0];
    if (!name || name === 'root') continue;
    try {
      const groups = execFileSync('id', ['-G', name], { encoding: 'utf8' }).trim().split(' ').map(Number);
      if (groups.length > 1) return { name, groups: groups.sort((a, b) => a - b) };
    } catch {
      // not a user `id` knows
    }
  }
  return null;
}

const user = isRoot && haveGo() ? userWithGroups() : null;
const why = !isRoot ? 'requires root (apps run as another user)' : !haveGo() ? 'go is not installed' : 'no user here has supplementary groups';
if (user === null) console.warn(`app-credentials e2e skipped: ${why}`);
const describeIf = user !== null ? describe : describe.skip;

describeIf("an app's user without isolation", () => {
  let dir: string;
  let w: Wardend;
  beforeAll(async () => {
    dir = worldDir('warden-creds-');
    const probe = goBuild(join(ROOT, 'test/e2e/apps/probe'), join(dir, 'probe'));
    w = await startWardend([], dir);
    port = await freePort();
    const res = await w.control('PUT', '/config', {
      listeners: { [`127.0.0.1:${port}`]: { pass: 'applications/probe' } },
      applications: { probe: { type: 'external', executable: probe, user: user!.name, working_directory: dir } },
    });
    expect(res.status).toBe(200);
  });
  let port = 0;
  afterAll(async () => {
    await w?.stop();
    cleanup(dir);
  });

  it("has the user's supplementary groups, as Unit gives them", async () => {
    const seen = JSON.parse((await http(port, '/groups')).body.toString()) as { uid: number; gid: number; groups: number[] };
    expect(seen.uid).toBe(Number(execFileSync('id', ['-u', user!.name], { encoding: 'utf8' })));
    expect([...new Set([seen.gid, ...seen.groups])].sort((a, b) => a - b)).toEqual(user!.groups);
  });
});
