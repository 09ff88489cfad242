import { existsSync, readFileSync } from 'fs';
import { join } from 'path';
import { ROOT, cleanup, freePort, goBuild, haveGo, http, isRoot, startWardend, waitUntil, worldDir, type Wardend } from './support/wardend';

/** The directory of `controller`'s hierarchy that holds process `pid` (v1 controllers, or the v2 unified mount). */
function cgroupDirOf(pid: number, controller: string): string | undefined {
  for (const line of readFileSync(`/proc/${pid}/cgroup`, 'utf8').trim().split('\n')) {
    const [, ctrls, path] = line.split(':');
    if (ctrls.split(',').includes(controller)) return join('/sys/fs/cgroup', controller, path);
  }
  return undefined;
}
const memoryDir = isRoot ? cgroupDirOf(process.pid, 'memory') : undefined;
const pidsDir = isRoot ? cgroupDirOf(process.pid, 'pids') : undefined;
const ready = isRoot && haveGo() && !!memoryDir && !!pidsDir && existsSync(memoryDir) && existsSync(pidsDir);
const describeRoot = ready ? describe : describe.skip;
if (!ready)
  console.warn(
    `cgroup-limits e2e skipped: ${!isRoot ? 'requires root' : !haveGo() ? 'go is not installed' : 'no v1 memory and pids controllers on this machine'}`,
  );

describeRoot('cgroup limits through wardend', () => {
  let dir: string;
  let hog: string;
  let w: Wardend;
  const group = `warden-e2e-${process.pid}`;

  beforeAll(async () => {
    dir = worldDir('warden-cg-');
    hog = goBuild(join(ROOT, 'test/e2e/apps/hog'), join(dir, 'hog'));
    w = await startWardend([], dir);
  });
  afterAll(async () => {
    await w?.stop();
    cleanup(dir);
  });

  it('an app over memory_max is OOM-killed, wardend logs it and restarts the app, and the cgroup goes with the app', async () => {
    const port = await freePort();
    const res = await w.control('PUT', '/config', {
      listeners: { [`127.0.0.1:${port}`]: { pass: 'applications/hog' } },
      applications: {
        hog: { type: 'external', executable: hog, processes: 1, isolation: { namespaces: { pid: true }, cgroup: { path: group, memory_max: '64M' } } },
      },
    });
    expect(res).toEqual({ status: 200, body: { success: 'Reconfiguration done.' } });
    const cg = join(cgroupDirOf(w.proc.pid!, 'memory')!, group);
    expect(existsSync(cg)).toBe(true);
    expect(Number(readFileSync(join(cg, 'memory.limit_in_bytes'), 'utf8'))).toBe(64 << 20);

    const startedPids = () =>
      w
        .log()
        .split('\n')
        .filter((l) => l.includes('app process started') && l.includes('"app":"hog"')).length;
    const started = startedPids();
    const killed = await http(port, '/alloc?mb=256');
    expect(killed.status).toBe(502);
    await w.waitForLog(/OOM/);
    await w.waitForLog(/exited unexpectedly \(signal SIGKILL\)/);
    // "processes": 1 keeps one process running: wardend starts a new one, which serves the next requests.
    const after = await http(port, '/alloc?mb=8');
    expect(after.status).toBe(200);
    expect(startedPids()).toBeGreaterThan(started);

    // Removing the app removes its (now empty) cgroup.
    expect((await w.control('PUT', '/config', { listeners: {}, applications: {} })).status).toBe(200);
    await waitUntil(() => !existsSync(cg), `${cg} is removed`);
  });

  it('a fork bomb under pids_max: 20 cannot exceed 20 tasks', async () => {
    const port = await freePort();
    const res = await w.control('PUT', '/config', {
      listeners: { [`127.0.0.1:${port}`]: { pass: 'applications/bomb' } },
      applications: { bomb: { type: 'external', executable: hog, isolation: { namespaces: { pid: true }, cgroup: { path: `${group}-pids`, pids_max: 20 } } } },
    });
    expect(res.status).toBe(200);
    const started = Number((await http(port, '/spawn?n=100')).body.toString());
    // The prototype and the Go runtime's threads count too: far fewer than 20 children fit.
    expect(started).toBeGreaterThan(0);
    expect(started).toBeLessThan(20);
    const cg = join(cgroupDirOf(w.proc.pid!, 'pids')!, `${group}-pids`);
    expect(Number(/max (\d+)/.exec(readFileSync(join(cg, 'pids.events'), 'utf8'))![1])).toBeGreaterThan(0);
  });
});
