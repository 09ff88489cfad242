import { chmodSync } from 'fs';
import { cleanup, isRoot, startWardend, worldDir, type Wardend } from './support/wardend';

// Issue 13.6: wardend run unprivileged accepted `"user": "root"` without a credential namespace, and the app silently
// ran as wardend's own user. An identity an unprivileged wardend cannot give is refused now, saying why and what to
// configure instead. Started as `nobody` (uid 65534) by a root test runner; without root there is no other user to
// become.
const describeRoot = isRoot ? describe : describe.skip;
if (!isRoot) console.warn('rootless-identity e2e skipped: requires root to start wardend as nobody');

/** An app whose identity is what the test is about. */
const app = (extra: object) => ({ type: 'external', executable: '/bin/true', processes: { max: 1, spare: 0 }, ...extra });

describeRoot('an unprivileged wardend refuses app identities it cannot give', () => {
  let dir: string;
  let w: Wardend;
  beforeAll(async () => {
    dir = worldDir('warden-rootless-identity-');
    chmodSync(dir, 0o777);
    w = await startWardend([], dir, { uid: 65534, gid: 65534 });
  });
  afterAll(async () => {
    await w?.stop();
    cleanup(dir);
  });

  it('refuses "user": "root" without a credential namespace, with Unit\'s error shape and what to do instead', async () => {
    const res = await w.control('PUT', '/config', { applications: { a: app({ user: 'root' }) } });
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('Invalid configuration.');
    expect(res.body.detail).toBe(
      'WARDEN_ERR_CREDENTIALS_UNPRIVILEGED at /applications/a/user: The "user" value "root" (uid 0) cannot be used: wardend ' +
        'runs unprivileged (uid 65534, gid 65534) and cannot start an application as anyone else without a credential ' +
        'namespace, so it would silently run as wardend\'s own user. Remove "user" to run the application as wardend\'s ' +
        'user, or turn on "isolation.namespaces.credential" to run it in a user namespace of its own (with "user": "root" ' +
        'it is root only inside that namespace).',
    );
    expect((await w.control('GET', '/config/applications')).status).toBe(404); // nothing was applied
  });

  it('refuses another user and another group the same way, also with other namespaces', async () => {
    const other = await w.control('PUT', '/config', { applications: { a: app({ user: 'daemon', isolation: { namespaces: { pid: true } } }) } });
    expect([other.status, other.body.detail]).toEqual([
      400,
      expect.stringMatching(/^WARDEN_ERR_CREDENTIALS_UNPRIVILEGED at \/applications\/a\/user: The "user" value "daemon"/),
    ]);
    const group = await w.control('PUT', '/config', { applications: { a: app({ group: 'root' }) } });
    expect([group.status, group.body.detail]).toEqual([
      400,
      expect.stringMatching(/^WARDEN_ERR_CREDENTIALS_UNPRIVILEGED at \/applications\/a\/group: The "group" value "root" \(gid 0\)/),
    ]);
  });

  it('lets wardend\'s own user, and "root" inside a credential namespace, through validation', async () => {
    // /bin/true is no app, so starting it may fail (500); validation must not refuse these identities (400).
    const own = await w.control('PUT', '/config', { applications: { a: app({ user: 'nobody' }) } });
    expect(own.body.error).not.toBe('Invalid configuration.');
    const inside = await w.control('PUT', '/config', { applications: { a: app({ user: 'root', isolation: { namespaces: { credential: true } } }) } });
    expect(inside.body.error).not.toBe('Invalid configuration.');
  });
});
