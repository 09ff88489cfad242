import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { HttpRouter, type FileIdentity } from '../src';
import { permits } from '../src/internal/share-path';
import { EchoGateway, fetchText } from './helpers';

// The files below belong to the user running the tests; the router serves them as another user (uid 65534 unless
// that is us), so every check here works for root and non-root runs alike. The kernel would let the router itself
// open all of them: each 403 below is the identity check, and turns into 200 without it.
const me = process.getuid!();
const other = me === 65534 ? 65533 : 65534;
const NOBODY: FileIdentity = { uid: other, gid: other, groups: [other] };

let dir: string;
let www: string;
const routers: HttpRouter[] = [];

beforeAll(() => {
  dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'router-share-id-')));
  fs.chmodSync(dir, 0o755); // mkdtemp makes it 0700
  www = path.join(dir, 'www');
  fs.mkdirSync(path.join(www, 'drop'), { recursive: true, mode: 0o755 });
  fs.chmodSync(path.join(www, 'drop'), 0o1777); // world-writable, like an upload directory an app writes into
  fs.mkdirSync(path.join(www, 'private'), { mode: 0o700 });
  fs.mkdirSync(path.join(www, 'dir'), { mode: 0o755 });
  fs.writeFileSync(path.join(www, 'public.txt'), 'public', { mode: 0o644 });
  fs.writeFileSync(path.join(www, 'owner-only.txt'), 'owner only', { mode: 0o600 });
  fs.writeFileSync(path.join(www, 'group.txt'), 'group', { mode: 0o640 });
  fs.writeFileSync(path.join(www, 'private', 'readable.txt'), 'behind a closed directory', { mode: 0o644 });
  fs.writeFileSync(path.join(www, 'dir', 'index.html'), 'closed index', { mode: 0o600 });
  fs.writeFileSync(path.join(dir, 'shadow'), 'root:$6$secret', { mode: 0o600 });
  fs.writeFileSync(path.join(dir, 'outside.txt'), 'outside', { mode: 0o644 });
  // What the hostile app did: symlinks in a directory it may write to.
  fs.symlinkSync(path.join(dir, 'shadow'), path.join(www, 'drop', 'shadow-link'));
  fs.symlinkSync('../owner-only.txt', path.join(www, 'drop', 'owner-link'));
  fs.symlinkSync('../public.txt', path.join(www, 'drop', 'public-link'));
  fs.symlinkSync(path.join(dir, 'outside.txt'), path.join(www, 'drop', 'outside-link'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
afterEach(async () => {
  await Promise.all(routers.splice(0).map((r) => r.close(100)));
});

async function serve(action: Record<string, unknown>, identity: FileIdentity | null = NOBODY): Promise<number> {
  const router = new HttpRouter({ ephemeralPorts: true, gateway: new EchoGateway(), fileIdentity: identity ?? undefined });
  routers.push(router);
  await (await router.prepare({ routes: [{ action }], listeners: { '127.0.0.1:0': { pass: 'routes' } } })).commit();
  return router.addresses()['127.0.0.1:0'].port;
}

describe('share serves only what the unprivileged identity could open', () => {
  it('serves a world-readable file, also through a symlink', async () => {
    const port = await serve({ share: `${www}$uri` });
    expect((await fetchText(port, '/public.txt')).body).toBe('public');
    expect((await fetchText(port, '/drop/public-link')).body).toBe('public');
  });

  it('answers 403 for a file only its owner may read (mode 0600)', async () => {
    const port = await serve({ share: `${www}$uri` });
    const r = await fetchText(port, '/owner-only.txt');
    expect(r.status).toBe(403);
    expect(r.body).not.toContain('owner only');
  });

  it('answers 403 for a readable file in a directory the identity cannot search (mode 0700)', async () => {
    const port = await serve({ share: `${www}$uri` });
    expect((await fetchText(port, '/private/readable.txt')).status).toBe(403);
  });

  it('answers 403 for an index the identity cannot read', async () => {
    const port = await serve({ share: `${www}$uri` });
    expect((await fetchText(port, '/dir/')).status).toBe(403);
  });

  it('answers 403, as Unit and nginx do (EACCES), for a planted symlink to a root-only file', async () => {
    const port = await serve({ share: `${www}$uri` });
    for (const link of ['/drop/shadow-link', '/drop/owner-link']) {
      const r = await fetchText(port, link);
      expect(r.status).toBe(403);
      expect(r.body).not.toContain('secret');
      expect(r.body).not.toContain('owner only');
    }
  });

  it('takes the fallback for a file the identity may not read, as for any 403', async () => {
    const port = await serve({ share: `${www}$uri`, fallback: { return: 299 } });
    expect((await fetchText(port, '/drop/shadow-link')).status).toBe(299);
  });

  it('with chroot: 403 for a root-only file inside, 404 for a symlink whose target is outside', async () => {
    const port = await serve({ share: `${www}$uri`, chroot: www });
    expect((await fetchText(port, '/public.txt')).body).toBe('public');
    expect((await fetchText(port, '/owner-only.txt')).status).toBe(403);
    expect((await fetchText(port, '/drop/owner-link')).status).toBe(403);
    // An absolute target is resolved inside the chroot (openat2 RESOLVE_IN_ROOT, as Unit): <www><dir>/shadow is not there.
    const r = await fetchText(port, '/drop/shadow-link');
    expect(r.status).toBe(404);
    expect(r.body).not.toContain('secret');
    expect((await fetchText(port, '/drop/outside-link')).status).toBe(404);
  });

  it('with follow_symlinks false and traverse_mounts false the identity is still checked', async () => {
    // With chroot, so that only what lies below it counts (the test directory may sit below a mount or a symlink).
    const port = await serve({ share: `${www}$uri`, chroot: www, follow_symlinks: false, traverse_mounts: false });
    expect((await fetchText(port, '/public.txt')).body).toBe('public');
    expect((await fetchText(port, '/owner-only.txt')).status).toBe(403);
    expect((await fetchText(port, '/drop/shadow-link')).status).toBe(403);
  });

  it('checks the chroot directory itself: 403 when the identity cannot reach it', async () => {
    const port = await serve({ share: `${www}/private$uri`, chroot: `${www}/private` });
    expect((await fetchText(port, '/readable.txt')).status).toBe(403);
  });

  it('serves a group-readable file to an identity in that group', async () => {
    const gid = fs.statSync(path.join(www, 'group.txt')).gid;
    const port = await serve({ share: `${www}$uri` }, { uid: other, gid: other, groups: [other, gid] });
    expect((await fetchText(port, '/group.txt')).body).toBe('group');
    const port2 = await serve({ share: `${www}$uri` });
    expect((await fetchText(port2, '/group.txt')).status).toBe(403);
  });

  it('serves everything the router may open when no identity is set', async () => {
    const port = await serve({ share: `${www}$uri` }, null);
    expect((await fetchText(port, '/owner-only.txt')).body).toBe('owner only');
  });
});

describe('permits', () => {
  const st = (uid: number, gid: number, mode: number) => ({ uid, gid, mode }) as fs.Stats;
  it('uses only the owner class for the owner, as the kernel does', () => {
    expect(permits(st(10, 20, 0o044), { uid: 10, gid: 30, groups: [30] }, 4)).toBe(false);
    expect(permits(st(10, 20, 0o400), { uid: 10, gid: 30, groups: [30] }, 4)).toBe(true);
  });
  it('uses the group class for a supplementary group, else the other class', () => {
    expect(permits(st(10, 20, 0o040), { uid: 11, gid: 30, groups: [30, 20] }, 4)).toBe(true);
    expect(permits(st(10, 20, 0o404), { uid: 11, gid: 30, groups: [30, 20] }, 4)).toBe(false);
    expect(permits(st(10, 20, 0o001), { uid: 11, gid: 30, groups: [30] }, 1)).toBe(true);
  });
});
