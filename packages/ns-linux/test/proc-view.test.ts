import { readFileSync } from 'fs';
import type { AppConfig } from '@warden/core';
import { describeRoot, isolate, nativeFixture, ProbeReport, runProbe, startPrototype } from './helpers';

// Issue 13.4: with a pid namespace but no rootfs, the app saw the host's /proc: every host process, its command line
// and, for same-uid processes, its environment. With `pid` and `mount` a fresh procfs is mounted on /proc inside the
// app's (private) mount namespace, rootfs or not; `automount.procfs: false` keeps the host's.

/** The host's mounts at /proc, from this process's mountinfo. */
const hostProcMounts = () =>
  readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter((l) => l.split(' ')[4] === '/proc');

describeRoot('the /proc an app with a pid namespace sees (requires root)', () => {
  const native = nativeFixture({ cli: true });

  const run = async (isolation: AppConfig['isolation'], args: string[], user?: string) => {
    const proto = await startPrototype({ type: 'external', isolation, user });
    try {
      return (await runProbe(proto, native.probe, native.dir, args)).report;
    } finally {
      await proto.close();
    }
  };

  it('lists only the prototype and the app with pid and mount namespaces and no rootfs', async () => {
    const before = hostProcMounts();
    const report = await run({ namespaces: { pid: true, mount: true } }, ['procs']);
    expect(report.procs).toEqual([1, 2]);
    // The fresh proc stayed inside the app's mount namespace.
    expect(hostProcMounts()).toEqual(before);
  });

  it("does not show wardend's (here: the test's) pid, also with a credential namespace", async () => {
    const map = [{ container: 0, host: 1000, size: 1000 }];
    const report = await run(
      { namespaces: { credential: true, pid: true, mount: true }, uidmap: map, gidmap: map },
      ['exists', `/proc/${process.pid}`],
      'root',
    );
    expect(report.exists).toBe(false);
  });

  it("keeps the host's /proc with automount.procfs false", async () => {
    const report = await run({ namespaces: { pid: true, mount: true }, automount: { procfs: false } }, ['exists', `/proc/${process.pid}`]);
    expect(report.exists).toBe(true);
  });

  it('warden-isolate shows the command only its own processes', () => {
    const r = isolate(['--isolation', '{"namespaces":{"pid":true,"mount":true}}', '--', native.probe, 'procs']);
    expect(r.stderr).toBe('');
    expect((JSON.parse(r.stdout) as ProbeReport).procs).toEqual([1, 2]);
  });
});
