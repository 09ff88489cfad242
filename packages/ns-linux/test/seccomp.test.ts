import { execFileSync, spawnSync } from 'child_process';
import { existsSync, readFileSync } from 'fs';
import * as path from 'path';
import type { AppConfig, AppPrototype } from '@warden/core';
import { cleanup, describeRoot, runProbe, setupNative, startPrototype } from './helpers';

const EPERM = 1;
const ENOSYS = 38;
/** The calls issue 21 names; the probe makes each with arguments the kernel would reject with another errno. */
const DENIED = ['mount', 'unshare', 'kexec_load', 'bpf', 'ptrace', 'keyctl', 'add_key', 'perf_event_open'];
const ALLOWED = ['getpid', 'clone_fork', 'personality_query', 'socket_inet', 'socket_unix', 'socket_netlink'];

// The app runs as real root in its own mount and pid namespaces: with every capability, each call gets past the
// kernel's privilege checks, so an EPERM can only come from the filter (the unfiltered run proves it).
const base: AppConfig = { type: 'external', user: 'root', isolation: { namespaces: { mount: true, pid: true } } };
const withSeccomp = (seccomp: unknown): AppConfig => ({ ...base, isolation: { ...base.isolation, seccomp } });

describeRoot('seccomp filter in app processes (requires root)', () => {
  let dir: string;
  let probe: string;
  beforeAll(() => {
    ({ dir } = setupNative());
    probe = path.join(dir, 'syscall-probe');
    execFileSync('cc', ['-static', '-O1', '-o', probe, path.join(__dirname, 'fixtures/syscall-probe.c')]);
  });
  afterAll(() => cleanup(dir));

  /** Runs the syscall probe once in a new prototype of `app`: the errno of each call, or the signal that ended it. */
  const calls = async (app: AppConfig, names: string[]) => {
    const proto = await startPrototype(app);
    try {
      return await callsIn(proto, names);
    } finally {
      await proto.close();
    }
  };
  const callsIn = async (proto: AppPrototype, names: string[]) => {
    const out = path.join(dir, `calls-${Math.random().toString(36).slice(2)}.json`);
    const proc = await proto.spawn({ executable: probe, argv: ['syscall-probe', ...names], env: {}, stdout: out }, []);
    const exit = await proc.exited;
    const text = readFileSync(out, 'utf8');
    return { errno: (exit.code === 0 ? JSON.parse(text) : {}) as Record<string, number>, exit };
  };

  let unfiltered: Record<string, number>;
  beforeAll(async () => {
    unfiltered = (await calls(base, [...DENIED, ...ALLOWED, 'clone_newns', 'clone3', 'socket_packet', 'x32_getpid'])).errno;
  });

  it('without seccomp (as in Unit) the kernel answers each probe call with its own errno, never EPERM', () => {
    for (const name of [...DENIED, 'clone_newns', 'clone3']) expect([name, unfiltered[name]]).not.toEqual([name, EPERM]);
    for (const name of ALLOWED) expect([name, unfiltered[name]]).toEqual([name, 0]);
  });

  it('the default profile refuses mount, unshare, kexec_load, bpf, ptrace, keyctl, add_key and perf_event_open with EPERM', async () => {
    const { errno, exit } = await calls(withSeccomp('default'), [...DENIED, 'clone_newns', 'socket_packet']);
    expect(exit).toEqual({ code: 0, signal: null });
    for (const name of [...DENIED, 'clone_newns', 'socket_packet']) expect([name, errno[name]]).toEqual([name, EPERM]);
  });

  it('the default profile lets ordinary calls through (fork via clone, sockets, personality query) and answers clone3 with ENOSYS', async () => {
    const { errno } = await calls(withSeccomp('default'), [...ALLOWED, 'clone3']);
    for (const name of ALLOWED) expect([name, errno[name]]).toEqual([name, 0]);
    expect(errno.clone3).toBe(ENOSYS);
  });

  it('sets no_new_privs together with the filter, and not without one', async () => {
    const proto = await startPrototype(withSeccomp('default'));
    try {
      const { report } = await runProbe(proto, path.join(dir, 'probe'), dir);
      expect(report.NoNewPrivs).toBe('1');
    } finally {
      await proto.close();
    }
    const plain = await startPrototype(base);
    try {
      expect((await runProbe(plain, path.join(dir, 'probe'), dir)).report.NoNewPrivs).toBe('0');
    } finally {
      await plain.close();
    }
  });

  it.each(DENIED)('action "kill" ends the process with SIGSYS at its first %s', async (name) => {
    const { exit } = await calls(withSeccomp({ action: 'kill' }), ['getpid', name]);
    expect(exit).toEqual({ code: null, signal: 'SIGSYS' });
  });

  it('action "log" lets a refused call through (the kernel logs it) so a profile can be tried without breaking the app', async () => {
    const { errno } = await calls(withSeccomp({ action: 'log' }), ['ptrace', 'bpf']);
    expect(errno).toEqual({ ptrace: unfiltered.ptrace, bpf: unfiltered.bpf });
  });

  it('an allow list re-enables one call and leaves the others refused', async () => {
    const { errno } = await calls(withSeccomp({ allow: ['ptrace'] }), ['ptrace', 'bpf', 'mount']);
    expect(errno).toEqual({ ptrace: unfiltered.ptrace, bpf: EPERM, mount: EPERM });
  });

  it('a deny list removes a call from the default profile, and from "unconfined" (a deny-only filter)', async () => {
    expect((await calls(withSeccomp({ deny: ['socket'] }), ['socket_inet', 'getpid'])).errno).toEqual({ socket_inet: EPERM, getpid: 0 });
    const { errno } = await calls(withSeccomp({ base: 'unconfined', deny: ['ptrace'] }), ['ptrace', 'bpf', 'mount']);
    expect(errno).toEqual({ ptrace: EPERM, bpf: unfiltered.bpf, mount: unfiltered.mount });
  });

  it('kills an x32 call on x86_64 even with action "errno" (the x32 ABI shares the x86_64 audit arch)', async () => {
    if (process.arch !== 'x64') return void console.warn('x32 check skipped: not an x86_64 machine');
    expect(unfiltered.x32_getpid).toBeDefined(); // ENOSYS without CONFIG_X86_X32_ABI, else success
    const { exit } = await calls(withSeccomp('default'), ['x32_getpid']);
    expect(exit).toEqual({ code: null, signal: 'SIGSYS' });
  });

  it('every process of the app gets the filter, and the prototype keeps doing its job (mounts, forks) for each', async () => {
    const proto = await startPrototype({
      ...withSeccomp('default'),
      isolation: { ...withSeccomp('default').isolation, namespaces: { mount: true, pid: true, uname: true }, hostname: 'seccomp' },
    });
    try {
      for (let i = 0; i < 3; i++) expect((await callsIn(proto, ['mount', 'getpid'])).errno).toEqual({ mount: EPERM, getpid: 0 });
    } finally {
      await proto.close();
    }
  });

  describe('warden-isolate', () => {
    const PKG = path.resolve(__dirname, '..');
    // The CLI runs from dist/, like an installed package.
    beforeAll(() => execFileSync(path.resolve(PKG, '../../node_modules/.bin/tsc'), ['-b', PKG], { stdio: 'inherit' }));
    const isolate = (isolation: unknown, command: string[]) =>
      spawnSync(process.execPath, [path.join(PKG, 'bin/warden-isolate.js'), '--user', 'root', '--isolation', JSON.stringify(isolation), '--', ...command], {
        encoding: 'utf8',
        timeout: 20000,
      });

    it('takes the same seccomp key: the default profile refuses mount with EPERM, and kill ends the command with SIGSYS (128+31)', () => {
      const r = isolate({ seccomp: 'default' }, [probe, 'mount', 'getpid']);
      expect([r.status, JSON.parse(r.stdout)]).toEqual([0, { mount: EPERM, getpid: 0 }]);
      expect(isolate({ seccomp: { action: 'kill' } }, [probe, 'mount']).status).toBe(128 + 31);
    });

    const setpriv = ['/usr/bin/setpriv', '/bin/setpriv'].find((f) => existsSync(f));
    (setpriv ? it : it.skip)('installs the filter for an unprivileged caller too (run as nobody: no_new_privs makes it allowed)', () => {
      const asNobody = (isolation: unknown) =>
        spawnSync(
          setpriv!,
          [
            '--reuid=65534',
            '--regid=65534',
            '--clear-groups',
            process.execPath,
            path.join(PKG, 'bin/warden-isolate.js'),
            '--isolation',
            JSON.stringify(isolation),
            '--',
            probe,
            'ptrace',
            'keyctl',
            'getpid',
          ],
          { encoding: 'utf8', timeout: 20000 },
        );
      // ptrace of oneself answers ESRCH and an unknown keyctl command EOPNOTSUPP for any user; the filter says EPERM.
      const plain = asNobody({});
      expect(JSON.parse(plain.stdout)).toEqual({ ptrace: 3, keyctl: 95, getpid: 0 });
      for (const namespaces of [{}, { credential: true, pid: true }]) {
        const r = asNobody({ namespaces, seccomp: 'default' });
        expect([namespaces, r.stderr, JSON.parse(r.stdout)]).toEqual([namespaces, '', { ptrace: EPERM, keyctl: EPERM, getpid: 0 }]);
      }
    });

    it('refuses an unknown system call naming it, before anything runs', () => {
      const r = isolate({ seccomp: { allow: ['frobnicate'] } }, [probe, 'getpid']);
      expect(r.status).not.toBe(0);
      expect(r.stdout).toBe('');
      expect(r.stderr).toContain('Unknown system call "frobnicate" in "seccomp.allow".');
    });
  });
});
