import { chmodSync, chownSync, mkdirSync, symlinkSync, writeFileSync } from 'fs';
import { join } from 'path';
import { execFileSync } from 'child_process';
import { cleanup, freePort, http, isRoot, startWardend, worldDir, type Wardend } from './support/wardend';

/** uid/gid of a user of this host, or undefined. */
function idsOf(user: string): { uid: number; gid: number } | undefined {
  try {
    return { uid: Number(execFileSync('id', ['-u', user]).toString()), gid: Number(execFileSync('id', ['-g', user]).toString()) };
  } catch {
    return undefined;
  }
}

const nobody = idsOf('nobody');
// As root, wardend itself could open every file; the point is that it serves only what its unprivileged user could.
const describeRoot = isRoot && nobody !== undefined ? describe : describe.skip;
if (!isRoot) console.log('share-privileges: skipped, requires root (wardend must be able to open what nobody may not)');

describeRoot('wardend as root serves static files only as its unprivileged user (--user, default nobody)', () => {
  let dir: string;
  let w: Wardend;
  let port: number;

  beforeAll(async () => {
    dir = worldDir('warden-share-priv-');
    const www = join(dir, 'www');
    mkdirSync(join(www, 'uploads'), { recursive: true, mode: 0o755 });
    chmodSync(join(www, 'uploads'), 0o1777); // an app running as nobody may write here
    writeFileSync(join(dir, 'shadow'), 'root:$6$secret:19000::::::\n', { mode: 0o600 });
    writeFileSync(join(www, 'root-only.txt'), 'root only\n', { mode: 0o600 });
    writeFileSync(join(www, 'public.txt'), 'public\n', { mode: 0o644 });
    writeFileSync(join(www, 'nobody-only.txt'), 'nobody only\n', { mode: 0o600 });
    chownSync(join(www, 'nobody-only.txt'), nobody!.uid, nobody!.gid);
    symlinkSync(join(dir, 'shadow'), join(www, 'uploads', 'shadow')); // what the hostile app planted
    w = await startWardend([], dir);
    port = await freePort();
    const res = await w.control('PUT', '/config', {
      listeners: { [`127.0.0.1:${port}`]: { pass: 'routes' } },
      routes: [{ match: { headers: { 'X-Chroot': 'yes' } }, action: { share: `${www}$uri`, chroot: www } }, { action: { share: `${www}$uri` } }],
    });
    expect(res.body).toEqual({ success: 'Reconfiguration done.' });
  });
  afterAll(async () => {
    await w?.stop();
    cleanup(dir);
  });

  it('serves a world-readable file and a file owned by nobody', async () => {
    expect((await http(port, '/public.txt')).body.toString()).toBe('public\n');
    expect((await http(port, '/nobody-only.txt')).body.toString()).toBe('nobody only\n');
  });

  it('answers 403 for a root-only file (mode 0600) under the share', async () => {
    const res = await http(port, '/root-only.txt');
    expect(res.status).toBe(403);
    expect(res.body.toString()).not.toContain('root only');
  });

  it('answers 403 for a symlink to a root-only file planted in a world-writable directory', async () => {
    const res = await http(port, '/uploads/shadow');
    expect(res.status).toBe(403);
    expect(res.body.toString()).not.toContain('secret');
  });

  it('with chroot: 403 for the root-only file, 404 for the planted symlink (its target resolves inside the chroot)', async () => {
    const chroot = { headers: { 'X-Chroot': 'yes' } };
    expect((await http(port, '/public.txt', chroot)).status).toBe(200);
    expect((await http(port, '/root-only.txt', chroot)).status).toBe(403);
    const res = await http(port, '/uploads/shadow', chroot);
    expect(res.status).toBe(404);
    expect(res.body.toString()).not.toContain('secret');
  });
});
