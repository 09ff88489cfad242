import { existsSync, readFileSync } from 'fs';
import * as path from 'path';
import { readCgroupLayout } from '../src/internal/cgroup/cgroup-layout';
import { cleanup, describeRoot, runProbe, setupNative, startPrototype, validationMessage } from './helpers';

const layout = readCgroupLayout();
const v1 = (ctrl: string) => layout.find((h) => h.version === 1 && h.controllers.includes(ctrl));
const v2 = layout.find((h) => h.version === 2);
const hasPids = !!v1('pids') || !!v2?.controllers.includes('pids');
const hasMemory = !!v1('memory') || !!v2?.controllers.includes('memory');

describe('cgroup validation', () => {
  const check = (cgroup: unknown) => validationMessage({ cgroup });
  it.each(['', '../x', 'a/../b', '/', './a'])("refuses the path %j with Unit's message", (p) => {
    expect(check({ path: p })).toBe(`The cgroup path "${p}" is invalid.`);
  });
  it('accepts limits and refuses bad ones', () => {
    expect(check({ path: 'app', memory_max: '64M', pids_max: 20, cpu_max: '50000 100000' })).toBe('valid');
    expect(check({ path: 'app', memory_max: 'lots' })).toContain('memory_max');
    expect(check({ path: 'app', pids_max: 0 })).toContain('pids_max');
    expect(check({ path: 'app', cpu_max: 'half' })).toContain('cpu_max');
    expect(check({ path: 'app', bogus: 1 })).toBe('Unknown parameter "bogus".');
  });
});

describeRoot('cgroup placement and limits (requires root)', () => {
  let dir: string;
  let probe: string;
  let name: string;
  beforeAll(() => ({ dir, probe } = setupNative()));
  beforeEach(() => (name = `warden-test-${process.pid}-${Math.random().toString(36).slice(2, 8)}`));
  afterAll(() => cleanup(dir));

  const own = (h: { ownDir: string }) => path.join(h.ownDir, name);

  it("places the app in the cgroup (relative to wardend's own) on every hierarchy and removes it on close", async () => {
    const proto = await startPrototype({ type: 'external', isolation: { namespaces: { pid: true }, cgroup: { path: name } } });
    let report;
    try {
      report = (await runProbe(proto, probe, dir)).report;
      for (const h of layout.filter((x) => x.version === 2 || x.controllers.some((c) => ['pids', 'memory', 'cpu'].includes(c)))) {
        expect(existsSync(own(h))).toBe(true);
        expect(
          readFileSync(path.join(own(h), 'cgroup.procs'), 'utf8')
            .trim()
            .split('\n'),
        ).toContain(String(proto.pid));
      }
    } finally {
      await proto.close();
    }
    const lines = report.cgroup.split('\n');
    if (v2) expect(lines).toContain(`0::${path.join(v2.ownDir.slice(v2.mount.length) || '/', name)}`);
    if (v1('memory'))
      expect(lines.some((l: string) => l.endsWith(`:memory:${path.join(v1('memory')!.ownDir.slice(v1('memory')!.mount.length), name)}`))).toBe(true);
    for (const h of layout) expect(existsSync(own(h))).toBe(false);
  });

  it('shows the cgroup as "/" inside a cgroup namespace', async () => {
    const proto = await startPrototype({ type: 'external', isolation: { namespaces: { cgroup: true }, cgroup: { path: name } } });
    try {
      const { report } = await runProbe(proto, probe, dir);
      if (v2) expect(report.cgroup.split('\n')).toContain('0::/');
      if (v1('pids')) expect(report.cgroup).toMatch(/:pids:\/\n/);
    } finally {
      await proto.close();
    }
  });

  (hasPids ? it : it.skip)('caps a fork bomb at pids_max', async () => {
    const proto = await startPrototype({ type: 'external', isolation: { namespaces: { pid: true }, cgroup: { path: name, pids_max: 20 } } });
    try {
      const { report } = await runProbe(proto, probe, dir, ['forkbomb', '100']);
      // prototype + probe + forked children <= 20
      expect(report.forked as number).toBeLessThanOrEqual(18);
      expect(report.forked as number).toBeGreaterThan(5);
      const h = v2?.controllers.includes('pids') ? v2 : v1('pids')!;
      const events = readFileSync(path.join(own(h), 'pids.events'), 'utf8');
      expect(Number(/max (\d+)/.exec(events)?.[1])).toBeGreaterThan(0);
    } finally {
      await proto.close();
    }
  });

  (hasMemory ? it : it.skip)('has a memory hog killed by the OOM killer under memory_max, and logs it', async () => {
    const warnings: string[] = [];
    const { planFor } = await import('./helpers');
    const { LinuxProcessSpawner } = await import('@warden/ns-linux');
    const logger = {
      info() {},
      error() {},
      warn(_o: object, msg?: string) {
        warnings.push(String(msg));
      },
    };
    const { plan } = planFor({ type: 'external', isolation: { namespaces: { pid: true }, cgroup: { path: name, memory_max: '32M' } } });
    const proto = await new LinuxProcessSpawner({ logger }).createPrototype('hog', plan);
    try {
      const proc = await proto.spawn({ executable: probe, argv: ['probe', 'hog', '256'], env: {}, stdout: '/dev/null' }, []);
      expect(await proc.exited).toEqual({ code: null, signal: 'SIGKILL' });
      expect(warnings).toContain('app process killed by the OOM killer (cgroup memory_max)');
      // the prototype survives: the app can be restarted in the same cgroup
      expect((await runProbe(proto, probe, dir)).exit.code).toBe(0);
    } finally {
      await proto.close();
    }
  });

  it('writes cpu_max', async () => {
    const proto = await startPrototype({ type: 'external', isolation: { cgroup: { path: name, cpu_max: '50000 100000' } } });
    try {
      if (v2?.controllers.includes('cpu')) {
        expect(readFileSync(path.join(own(v2), 'cpu.max'), 'utf8').trim()).toBe('50000 100000');
      } else if (v1('cpu')) {
        expect(readFileSync(path.join(own(v1('cpu')!), 'cpu.cfs_quota_us'), 'utf8').trim()).toBe('50000');
        expect(readFileSync(path.join(own(v1('cpu')!), 'cpu.cfs_period_us'), 'utf8').trim()).toBe('100000');
      }
    } finally {
      await proto.close();
    }
  });
});

describeRoot('cgroup across a restart (requires root)', () => {
  let dir: string;
  let probe: string;
  beforeAll(() => ({ dir, probe } = setupNative()));
  afterAll(() => cleanup(dir));

  it('keeps the cgroup while the next prototype of the app uses it, and removes it when that one closes', async () => {
    const name = `warden-restart-${process.pid}`;
    const app = { type: 'external', isolation: { namespaces: { pid: true }, cgroup: { path: name } } };
    const old = await startPrototype(app);
    const fresh = await startPrototype(app);
    const h = layout.find((x) => x.version === 1 && x.controllers.includes('pids')) ?? layout[0];
    await old.close();
    expect(existsSync(path.join(h.ownDir, name))).toBe(true);
    expect((await runProbe(fresh, probe, dir)).exit.code).toBe(0);
    await fresh.close();
    for (const x of layout) expect(existsSync(path.join(x.ownDir, name))).toBe(false);
  });
});
