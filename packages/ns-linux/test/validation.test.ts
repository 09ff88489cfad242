import { AppConfig, ConfigValidationError, PlanContext, validateIsolation, buildSpawnPlan, PHASE } from '@warden/core';
import { CLONE } from '@warden/ns-linux';
import { pluginContainer } from './helpers';

function ctx(over: Partial<PlanContext> = {}, creds: Partial<PlanContext['credentials']> = {}): PlanContext {
  return {
    appName: 'go', daemonUid: 0, daemonGid: 0, defaultUser: 'nobody', defaultGroup: 'nogroup', tmpdir: '/tmp',
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

  it('refuses an unknown namespace as Unit does', () => {
    expect(invalid({ type: 'external', isolation: { namespaces: { bogus: true } } }).message).toBe('Unknown parameter "bogus".');
  });

  it('refuses a hostname without uname', () => {
    expect(invalid({ type: 'external', isolation: { hostname: 'x' } }).message).toBe(
      '"hostname" is set but "isolation.namespaces.uname" is false or unset.');
  });

  it('plans clone flags, ops by phase and the id-map hook', () => {
    const app: AppConfig = {
      type: 'external',
      isolation: { namespaces: { credential: true, pid: true, mount: true, network: true, uname: true, ipc: true, cgroup: true }, hostname: 'h' },
    };
    const plan = buildSpawnPlan(pluginContainer(), app, ctx());
    expect(plan.cloneFlags).toBe(CLONE.NEWUSER | CLONE.NEWPID | CLONE.NEWNS | CLONE.NEWNET | CLONE.NEWUTS | CLONE.NEWIPC | CLONE.NEWCGROUP);
    expect(plan.childOps.map((o) => o.op)).toEqual(['make_rprivate', 'loopback_up', 'sethostname']);
    expect(plan.parentHooks.map((h) => [h.name, h.phase])).toEqual([['idmap', PHASE.IDMAP]]);
    expect([plan.uid, plan.gid]).toEqual([1000, 1000]);
  });

  it('adds no id-map hook without credential', () => {
    const plan = buildSpawnPlan(pluginContainer(), { type: 'external', isolation: { namespaces: { pid: true } } }, ctx());
    expect(plan.parentHooks).toEqual([]);
    expect(plan.cloneFlags).toBe(CLONE.NEWPID);
  });
});
