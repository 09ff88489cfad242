import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'fs';
import * as path from 'path';
import { ApplyError, AppConfig } from '@warden/core';
import { cleanup, describeRoot, runProbe, setupNative, startPrototype, validationMessage } from './helpers';

function mountPoints(report: { mounts: string | null }): string[] {
  return (report.mounts ?? '')
    .split('\n')
    .filter(Boolean)
    .map((l) => l.split(' ')[1]);
}

describeRoot('rootfs, automount and mounts (requires root)', () => {
  let dir: string;
  let probe: string;
  let rootfs: string;
  let hostData: string;
  beforeAll(() => {
    ({ dir, probe } = setupNative());
    rootfs = path.join(dir, 'rootfs');
    mkdirSync(rootfs);
    copyFileSync(probe, path.join(rootfs, 'probe'));
    hostData = mkdtempSync(path.join(dir, 'data-'));
    writeFileSync(path.join(hostData, 'hello.txt'), 'from the host');
    chmodSync(hostData, 0o755);
  });
  afterAll(() => cleanup(dir));

  const run = async (isolation: AppConfig['isolation'], args: string[] = [], user = 'root') => {
    const proto = await startPrototype({ type: 'external', user, isolation });
    try {
      return (await runProbe(proto, '/probe', dir, args)).report;
    } finally {
      await proto.close();
    }
  };

  it('pivots into the rootfs with a mount namespace: host files are absent, proc and tmp are mounted', async () => {
    const report = await run({ namespaces: { mount: true, pid: true }, rootfs }, ['exists', '/bin/sh']);
    expect(report.exists).toBe(false);
    expect(report.pid).toBe(2);
    const mounts = (report.mounts as string).split('\n').filter(Boolean);
    const proc = mounts.find((l) => l.split(' ')[1] === '/proc');
    const tmp = mounts.find((l) => l.split(' ')[1] === '/tmp');
    expect(proc).toMatch(/^proc \/proc proc [^ ]*nosuid,nodev,noexec/);
    expect(tmp).toMatch(/^tmpfs \/tmp tmpfs [^ ]*nosuid,nodev,noexec.*size=1024k/);
    // the old root is gone entirely
    expect(mountPoints(report).every((m) => ['/', '/proc', '/tmp'].includes(m))).toBe(true);
  });

  it('mounts neither proc nor tmp when automount is off', async () => {
    const report = await run({ namespaces: { mount: true, pid: true }, rootfs, automount: { procfs: false, tmpfs: false } }, ['exists', '/tmp/x']);
    expect(report.mounts).toBeNull(); // no /proc inside
    expect(report.NoNewPrivs).toBeNull();
  });

  it('chroots without a mount namespace (as Unit) and mounts nothing', async () => {
    const report = await run({ rootfs }, ['exists', '/bin/sh']);
    expect(report.exists).toBe(false);
    expect(report.mounts).toBeNull();
  });

  it('binds read-only mounts that are readable but not writable', async () => {
    const isolation = {
      namespaces: { mount: true, pid: true },
      rootfs,
      mounts: [{ source: hostData, target: '/data', readonly: true }],
    };
    const read = await run(isolation, ['read', '/data/hello.txt']);
    expect(read.read).toBe('from the host');
    const write = await run(isolation, ['write', '/data/new.txt']);
    expect(write.write).toBe(30); // EROFS
  });

  it('binds read-write mounts and tmpfs mounts', async () => {
    const isolation = {
      namespaces: { mount: true },
      rootfs,
      mounts: [
        { source: hostData, target: '/rw' },
        { type: 'tmpfs' as const, target: '/scratch', options: 'size=64k' },
      ],
    };
    const report = await run(isolation, ['write', '/rw/written.txt']);
    expect(report.write).toBe(0);
    expect(readFileSync(path.join(hostData, 'written.txt'), 'utf8')).toBe('x');
    expect(mountPoints(report)).toEqual(expect.arrayContaining(['/rw', '/scratch']));
  });

  it('never follows a symlink out of the rootfs when creating a mount target', async () => {
    const escapeRoot = path.join(dir, 'rootfs-escape');
    mkdirSync(escapeRoot);
    copyFileSync(probe, path.join(escapeRoot, 'probe'));
    const outside = mkdtempSync(path.join(dir, 'outside-'));
    // /data inside points at an absolute host path; it must resolve inside the rootfs.
    symlinkSync(outside, path.join(escapeRoot, 'data'));
    mkdirSync(path.join(escapeRoot, outside), { recursive: true });
    const report = await run(
      { namespaces: { mount: true, pid: true }, rootfs: escapeRoot, automount: { tmpfs: false }, mounts: [{ source: hostData, target: '/data' }] },
      ['read', '/data/hello.txt'],
    );
    expect(report.read).toBe('from the host');
    // The bind landed at <rootfs>/<outside>, inside the root, not on the host directory.
    expect(mountPoints(report)).toContain(outside);
    const hostMounts = readFileSync('/proc/self/mounts', 'utf8');
    expect(hostMounts).not.toContain(outside);
  });

  it('refuses rootfs "/" and relative paths, mounts on /proc or /sys, mounts without a mount namespace', () => {
    const check = validationMessage;
    expect(check({ rootfs: '/' })).toBe('rootfs requires an absolute path other than "/"');
    expect(check({ namespaces: { credential: true, mount: true }, rootfs: '/srv' })).toBe(
      '"automount.procfs" needs "isolation.namespaces.pid" when "credential" is on; turn "pid" on or set "procfs" to false.',
    );
    expect(check({ namespaces: { credential: true, mount: true }, rootfs: '/srv', automount: { procfs: false } })).toBe('valid');
    expect(check({ rootfs: 'relative' })).toBe('rootfs requires an absolute path other than "/"');
    expect(check({ namespaces: { mount: true }, mounts: [{ source: '/x', target: '/proc/sys' }] })).toBe(
      'The "target" of "mounts" entry 0 must not be inside /proc or /sys.',
    );
    expect(check({ namespaces: { mount: true }, mounts: [{ source: '/x', target: '/sys' }] })).toContain('/proc or /sys');
    expect(check({ mounts: [{ source: '/x', target: '/y' }] })).toBe('"mounts" is set but "isolation.namespaces.mount" is false or unset.');
    expect(check({ namespaces: { mount: true }, mounts: [{ target: '/y' }] })).toBe('The "source" of "mounts" entry 0 must be an absolute path on the host.');
  });

  it('works in a user namespace with a root-owned rootfs that has no mount points yet', async () => {
    const bare = mkdtempSync(path.join(dir, 'bare-'));
    chmodSync(bare, 0o755);
    copyFileSync(probe, path.join(bare, 'probe'));
    const map = [{ container: 0, host: 1000, size: 1000 }];
    const report = await run(
      {
        namespaces: { credential: true, mount: true, pid: true },
        rootfs: bare,
        uidmap: map,
        gidmap: map,
        mounts: [{ source: hostData, target: '/srv/data', readonly: true }],
      },
      ['read', '/srv/data/hello.txt'],
    );
    expect([report.uid, report.pid, report.read]).toEqual([0, 2, 'from the host']);
    expect(mountPoints(report)).toEqual(expect.arrayContaining(['/proc', '/tmp', '/srv/data']));
  });

  it('keeps the prototype (PID 1) out of reach of an app that is root in its user namespace', async () => {
    const map = [{ container: 0, host: 1000, size: 1000 }];
    const report = await run({ namespaces: { credential: true, mount: true, pid: true }, rootfs, uidmap: map, gidmap: map }, ['read', '/proc/1/environ']);
    expect([report.uid, report.pid]).toEqual([0, 2]);
    expect(report.read_error).toBe(13); // EACCES: not dumpable
  });

  it('reports a missing rootfs as ApplyError with the step', async () => {
    const err = await startPrototype({ type: 'external', isolation: { namespaces: { mount: true }, rootfs: '/nonexistent-rootfs' } }).catch((e) => e);
    expect(err).toBeInstanceOf(ApplyError);
    expect([err.step, err.errno]).toEqual(['bind', 2]);
  });
});
