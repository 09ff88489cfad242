import pino from 'pino';
import { Writable } from 'stream';
import { sharedIdentities, sharedIdentityWarning } from '../src/isolation/shared-identity';
import { DONE, fakeNamespace, harness } from './harness';

// Issue 13.7: apps that run as one uid without a user namespace can read and write each other's memory, their
// shared-memory channels included (/proc/PID/mem, ptrace). Allowed, as in Unit, but wardend warns when it applies
// such a config.

describe('sharedIdentities', () => {
  it('groups apps without a user namespace by host uid, leaving out those with one', () => {
    const apps = [
      { name: 'a', uid: 65534, userNamespace: false },
      { name: 'b', uid: 65534, userNamespace: false },
      { name: 'c', uid: 65534, userNamespace: true },
      { name: 'd', uid: 1, userNamespace: false },
    ];
    expect(sharedIdentities(apps, 0)).toEqual([{ uid: 65534, apps: ['a', 'b'], daemon: false }]);
  });

  it('counts an unprivileged wardend as sharing its uid with every app that runs as it', () => {
    expect(sharedIdentities([{ name: 'a', uid: 1000, userNamespace: false }], 1000)).toEqual([{ uid: 1000, apps: ['a'], daemon: true }]);
    expect(sharedIdentities([{ name: 'a', uid: 1000, userNamespace: true }], 1000)).toEqual([]);
  });

  it('says what is exposed and what to configure instead', () => {
    expect(sharedIdentityWarning({ uid: 65534, apps: ['a', 'b'], daemon: false })).toBe(
      'applications "a", "b" run as the same uid 65534 without a credential namespace: each can read and write the ' +
        "others' memory, and so their request channels, through /proc/PID/mem or ptrace. Give each application its own " +
        '"user", or turn on "isolation.namespaces.credential" for it.',
    );
  });
});

describe('applying a config whose apps share a uid', () => {
  const credential = { ...fakeNamespace('credential'), cloneFlag: 0x10000000 };
  let lines: { level: number; msg: string; applications?: string[]; uid?: number }[];
  let h: ReturnType<typeof harness>;
  beforeEach(() => {
    lines = [];
    const sink = new Writable({ write: (chunk, _enc, done) => (lines.push(JSON.parse(String(chunk))), done()) });
    h = harness({ namespaces: [credential, fakeNamespace('pid')], log: pino({ level: 'warn' }, sink) });
  });
  afterEach(() => h.cleanup());
  const app = (extra: object = {}) => ({ type: 'external', executable: '/bin/true', ...extra });
  const warnings = () => lines.filter((l) => l.level === 40 && /without a credential namespace/.test(l.msg));

  it('logs a warning naming the apps and the uid when two apps share one without a credential namespace', async () => {
    expect(await h.req('PUT', '/config', JSON.stringify({ applications: { a: app(), b: app({ isolation: { namespaces: { pid: true } } }) } }))).toEqual({
      status: 200,
      body: DONE,
    });
    const [w, ...more] = warnings();
    expect(more).toEqual([]);
    expect(w.applications).toEqual(['a', 'b']);
    expect(w.msg).toContain(`the same uid ${w.uid} without a credential namespace`);
  });

  it('does not warn when one of them has a credential namespace (as root: the other has its uid alone)', async () => {
    const res = await h.req('PUT', '/config', JSON.stringify({ applications: { a: app(), b: app({ isolation: { namespaces: { credential: true } } }) } }));
    expect(res).toEqual({ status: 200, body: DONE });
    if (process.geteuid?.() === 0) expect(warnings()).toEqual([]);
    else expect(warnings().map((w) => w.applications)).toEqual([['a']]); // unprivileged: "a" shares wardend's uid
  });
});
