import { readFileSync } from 'fs';
import { join } from 'path';
import { ROOT, cleanup, freePort, goBuild, haveGo, http, isRoot, startWardend, worldDir, type Wardend } from './support/wardend';

// Issue 13.4: an app with a pid namespace but no rootfs listed the host's /proc (every host process, command lines,
// environments of same-uid processes). With `pid` + `mount` it gets a fresh procfs in its own mount namespace.
const ready = isRoot && haveGo();
const describeRoot = ready ? describe : describe.skip;
if (!ready) console.warn(`proc-view e2e skipped: ${isRoot ? 'go is not installed' : 'requires root (pid and mount namespaces)'}`);

const hostProcMounts = () =>
  readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter((l) => l.split(' ')[4] === '/proc');

describeRoot('an app with pid and mount namespaces and no rootfs sees only its own processes in /proc', () => {
  let dir: string;
  let w: Wardend;
  const port: Record<string, number> = {};
  let hostMountsBefore: string[];

  beforeAll(async () => {
    dir = worldDir('warden-proc-');
    const probe = goBuild(join(ROOT, 'test/e2e/apps/probe'), join(dir, 'probe'));
    w = await startWardend([], dir);
    for (const n of ['fresh', 'host']) port[n] = await freePort();
    hostMountsBefore = hostProcMounts();
    const namespaces = { pid: true, mount: true };
    const res = await w.control('PUT', '/config', {
      listeners: Object.fromEntries(Object.entries(port).map(([n, p]) => [`127.0.0.1:${p}`, { pass: `applications/${n}` }])),
      applications: {
        fresh: { type: 'external', executable: probe, isolation: { namespaces } },
        host: { type: 'external', executable: probe, isolation: { namespaces, automount: { procfs: false } } },
      },
    });
    expect(res).toEqual({ status: 200, body: { success: 'Reconfiguration done.' } });
  });
  afterAll(async () => {
    await w?.stop();
    cleanup(dir);
  });

  it('lists only its prototype (1) and itself (2)', async () => {
    const seen = JSON.parse((await http(port.fresh, '/')).body.toString()) as { pid: number; procs: number[] };
    expect(seen.pid).toBe(2);
    expect(seen.procs).toEqual([1, 2]);
  });

  it('has no /proc/<wardend pid>', async () => {
    expect((await http(port.fresh, `/exists?path=/proc/${w.proc.pid}`)).body.toString()).toBe('false');
  });

  it('keeps the host /proc with automount.procfs false', async () => {
    expect((await http(port.host, `/exists?path=/proc/${w.proc.pid}`)).body.toString()).toBe('true');
  });

  it("leaves the host's mounts unchanged", () => {
    expect(hostProcMounts()).toEqual(hostMountsBefore);
  });
});
