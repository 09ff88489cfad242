import { execFileSync, spawnSync } from 'child_process';
import * as path from 'path';
import { ConfigValidationError, loadPlugins, PHASE, ProcessSpawner, TOKENS } from '@warden/core';
import { cleanup, describeRoot, planFor, pluginContainer, runProbe, setupNative } from './helpers';

const PLUGIN = path.resolve(__dirname, '../../../examples/plugins/time-namespace');
const DAY = 24 * 3600;
const silent = { info() {}, warn() {}, error() {} } as unknown as Parameters<typeof loadPlugins>[2];

async function containerWithPlugin() {
  const c = pluginContainer();
  // The same loader wardend uses for --plugin.
  await loadPlugins(c, [{ module: PLUGIN, required: true }], silent);
  return c;
}

describe('example plugin: time namespace (examples/plugins/time-namespace)', () => {
  it('registers a namespace provider and an isolation extra that validates its key', async () => {
    const c = await containerWithPlugin();
    const app = { type: 'external', user: 'root', isolation: { time_offsets: { monotonic: 5 } } };
    expect(() => planFor(app, c)).toThrow(ConfigValidationError);
    expect(() => planFor(app, c)).toThrow('"time_offsets" is set but "isolation.namespaces.time" is false or unset.');
    const { plan } = planFor({ ...app, isolation: { namespaces: { time: true }, time_offsets: { monotonic: 5 } } }, c);
    // No clone flag: the time namespace is an unshare op, followed by its offsets, in the same named step.
    expect(plan.cloneFlags & 0x80).toBe(0);
    expect(plan.childOps).toEqual([
      { op: 'unshare', phase: PHASE.NAMESPACE_SETUP, flags: 0x80 },
      { op: 'write_file', phase: PHASE.NAMESPACE_SETUP, path: '/proc/self/timens_offsets', data: 'monotonic 5 0\n' },
    ]);
  });
});

describeRoot('example plugin changes what the probe sees (requires root)', () => {
  let dir: string;
  let probe: string;
  beforeAll(() => ({ dir, probe } = setupNative()));
  afterAll(() => cleanup(dir));

  it('shifts CLOCK_MONOTONIC and CLOCK_BOOTTIME by the offsets, in a time namespace of its own', async () => {
    const c = await containerWithPlugin();
    const app = {
      type: 'external',
      user: 'nobody',
      isolation: { namespaces: { time: true, pid: true, credential: true }, time_offsets: { monotonic: 10 * DAY, boottime: 20 * DAY } },
    };
    const { plan } = planFor(app, c);
    const proto = await c.resolve<ProcessSpawner>(TOKENS.ProcessSpawner).createPrototype('time', plan);
    try {
      const host = JSON.parse(spawnSync(probe, ['time'], { encoding: 'utf8' }).stdout);
      const { report } = await runProbe(proto, probe, dir, ['time']);
      expect(report.ns.time).not.toBe(host.ns.time);
      expect((report.monotonic as number) - host.monotonic).toBeGreaterThanOrEqual(10 * DAY - 60);
      expect((report.monotonic as number) - host.monotonic).toBeLessThan(10 * DAY + 60);
      expect((report.boottime as number) - host.boottime).toBeGreaterThanOrEqual(20 * DAY - 60);
    } finally {
      await proto.close();
    }
  });

  it('loads with warden-isolate --plugin', () => {
    execFileSync(path.resolve(__dirname, '../../../node_modules/.bin/tsc'), ['-b', path.resolve(__dirname, '..')]);
    const r = spawnSync(
      process.execPath,
      [
        path.resolve(__dirname, '../bin/warden-isolate.js'),
        '--plugin',
        PLUGIN,
        '--isolation',
        JSON.stringify({ namespaces: { time: true }, time_offsets: { monotonic: DAY } }),
        '--',
        probe,
        'time',
      ],
      { encoding: 'utf8' },
    );
    expect(r.status).toBe(0);
    const host = JSON.parse(spawnSync(probe, ['time'], { encoding: 'utf8' }).stdout);
    expect(JSON.parse(r.stdout).monotonic - host.monotonic).toBeGreaterThanOrEqual(DAY - 60);
  });
});
