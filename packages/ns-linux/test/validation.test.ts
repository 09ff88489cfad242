import { AppConfig, ConfigValidationError, PlanContext, buildSpawnPlan, PHASE } from '@warden/core';
import { validateIsolation } from '@warden/core/internal';
import { CLONE } from '@warden/ns-linux';
import { pluginContainer } from './helpers';

function ctx(over: Partial<PlanContext> = {}, creds: Partial<PlanContext['credentials']> = {}): PlanContext {
  return {
    appName: 'go',
    daemonUid: 0,
    daemonGid: 0,
    defaultUser: 'nobody',
    defaultGroup: 'nogroup',
    tmpdir: '/tmp',
    credentials: { user: 'app', uid: 1000, group: 'app', gid: 1000, groups: [1000], home: '/', ...creds },
    ...over,
  };
}

function invalid(app: AppConfig, c = ctx()): ConfigValidationError {
  try {
    validateIsolation(pluginContainer(), app, c);
  } catch (e) {
    if (e instanceof ConfigValidationError) return e;
    throw e;
  }
  throw new Error('valid');
}

describe('isolation validation through core (Unit messages)', () => {
  it('refuses uidmap without credential, with the JSON path', () => {
    const e = invalid({ type: 'external', isolation: { uidmap: [{ container: 0, host: 1000, size: 1 }] } });
    expect(e.message).toBe('"uidmap" is set but "isolation.namespaces.credential" is false or unset.');
    expect(e.path).toBe('/applications/go/isolation/uidmap');
    expect(e.code).toBe('WARDEN_ERR_IDMAP_NO_CREDENTIAL');
  });

  it('refuses a privileged map that misses the app user', () => {
    const e = invalid({
      type: 'external',
      isolation: { namespaces: { credential: true }, uidmap: [{ container: 0, host: 100000, size: 10 }] },
    });
    expect(e.message).toBe('"uidmap" field has no "container" entry for user "app" (uid 1000).');
  });

  it('refuses an unprivileged map of another host uid', () => {
    const e = invalid(
      { type: 'external', isolation: { namespaces: { credential: true }, uidmap: [{ container: 1000, host: 0, size: 1 }] } },
      ctx({ daemonUid: 1000, daemonGid: 1000 }),
    );
    expect(e.message).toContain('unprivileged unit can only map itself (uid 1000)');
  });

  const cred = { credential: true };
  const priv = ctx();
  const unpriv = ctx({ daemonUid: 1000, daemonGid: 1000 });
  const groups = ctx({}, { groups: [1000, 27] });
  const unprivGroups = ctx({ daemonUid: 1000, daemonGid: 1000 }, { groups: [1000, 27] });
  it.each([
    [
      'maps without credential (gidmap)',
      {},
      { gidmap: [{ container: 0, host: 0, size: 1 }] },
      priv,
      '"gidmap" is set but "isolation.namespaces.credential" is false or unset.',
    ],
    ['privileged: gid not covered', cred, { gidmap: [{ container: 0, host: 5000, size: 10 }] }, priv, '"gidmap" field has no "container" entry for gid 1000.'],
    [
      'privileged: supplementary gids not covered',
      cred,
      { gidmap: [{ container: 1000, host: 5000, size: 1 }] },
      groups,
      '"gidmap" field has missing suplementary gid mappings (found 1 out of 2).',
    ],
    ['privileged: supplementary groups without gidmap', cred, {}, groups, '"gidmap" field has no entries but user "app" has 2 suplementary groups.'],
    [
      'unprivileged: two uid entries',
      cred,
      {
        uidmap: [
          { container: 1000, host: 1000, size: 1 },
          { container: 0, host: 1, size: 1 },
        ],
      },
      unpriv,
      '"uidmap" field has 2 entries but unprivileged unit has a maximum of 1 map.',
    ],
    [
      'unprivileged: two gid entries',
      cred,
      {
        gidmap: [
          { container: 1000, host: 1000, size: 1 },
          { container: 0, host: 1, size: 1 },
        ],
      },
      unpriv,
      '"gidmap" field has 2 entries but unprivileged unit has a maximum of 1 map.',
    ],
    [
      'unprivileged: other host gid',
      cred,
      { gidmap: [{ container: 1000, host: 0, size: 1 }] },
      unpriv,
      '"gidmap" field has an entry for host gid 0 but unprivileged unit can only map itself (gid 1000) into child namespaces.',
    ],
    [
      'unprivileged: gid size 2',
      cred,
      { gidmap: [{ container: 1000, host: 1000, size: 2 }] },
      unpriv,
      '"gidmap" field has an entry with "size": 2, but for unprivileged unit it must be 1.',
    ],
    [
      'unprivileged: gid entry for another gid',
      cred,
      { gidmap: [{ container: 0, host: 1000, size: 1 }] },
      unpriv,
      '"gidmap" field has no "container" entry for gid 1000.',
    ],
    [
      'unprivileged: supplementary groups',
      cred,
      {},
      unprivGroups,
      'unprivileged unit disallow supplementary groups for new namespace (user "app" has 2 groups).',
    ],
    [
      'overlapping ranges',
      cred,
      {
        uidmap: [
          { container: 0, host: 1000, size: 2000 },
          { container: 5000, host: 2500, size: 1 },
        ],
      },
      priv,
      'uidmap entry 0 maps host 1000..2999, which overlaps entry 1.',
    ],
  ])('%s', (_name, namespaces, maps, c, message) => {
    expect(invalid({ type: 'external', isolation: { namespaces, ...maps } }, c).message).toBe(message);
  });

  it('accepts more than 5 map lines when privileged', () => {
    const map = Array.from({ length: 20 }, (_, i) => ({ container: i * 100, host: 100000 + i * 100, size: 100 }));
    expect(() => validateIsolation(pluginContainer(), { type: 'external', isolation: { namespaces: cred, uidmap: map, gidmap: map } }, priv)).not.toThrow();
  });

  it('refuses an unknown namespace as Unit does', () => {
    expect(invalid({ type: 'external', isolation: { namespaces: { bogus: true } } }).message).toBe('Unknown parameter "bogus".');
  });

  it('refuses a hostname without uname', () => {
    expect(invalid({ type: 'external', isolation: { hostname: 'x' } }).message).toBe('"hostname" is set but "isolation.namespaces.uname" is false or unset.');
  });

  it('plans clone flags, ops by named step (the cgroup namespace as an unshare after the release) and the id-map hook', () => {
    const app: AppConfig = {
      type: 'external',
      isolation: { namespaces: { credential: true, pid: true, mount: true, network: true, uname: true, ipc: true, cgroup: true }, hostname: 'h' },
    };
    const plan = buildSpawnPlan(pluginContainer(), app, ctx());
    expect(plan.cloneFlags).toBe(CLONE.NEWUSER | CLONE.NEWPID | CLONE.NEWNS | CLONE.NEWNET | CLONE.NEWUTS | CLONE.NEWIPC);
    expect(plan.childOps.map((o) => [o.op, o.phase])).toEqual([
      ['unshare', PHASE.NAMESPACE_SETUP],
      ['make_rprivate', PHASE.MOUNT_PROPAGATION],
      ['mount', PHASE.MOUNT_SYSTEM], // a fresh /proc
      ['loopback_up', PHASE.HOST],
      ['sethostname', PHASE.HOST],
    ]);
    expect(plan.childOps[0]).toEqual({ op: 'unshare', phase: PHASE.NAMESPACE_SETUP, flags: CLONE.NEWCGROUP });
    expect(plan.parentHooks.map((h) => [h.name, h.phase])).toEqual([['idmap', PHASE.IDMAP]]);
    expect([plan.uid, plan.gid]).toEqual([1000, 1000]);
  });

  it('adds no id-map hook without credential', () => {
    const plan = buildSpawnPlan(pluginContainer(), { type: 'external', isolation: { namespaces: { pid: true } } }, ctx());
    expect(plan.parentHooks).toEqual([]);
    expect(plan.cloneFlags).toBe(CLONE.NEWPID);
  });
});
