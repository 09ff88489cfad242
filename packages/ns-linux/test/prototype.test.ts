import { closeSync, readFileSync } from 'fs';
import { hostname } from 'os';
import * as path from 'path';
import { ApplyError, PHASE, ProcessSpawner, TOKENS } from '@warden/core';
import { fdPass } from '../src/internal/spawner/native';
import { childrenOf, cleanup, describeRoot, hostStatus, planFor, runProbe, setupNative, startPrototype, waitUntil } from './helpers';

describeRoot('prototype and app processes (requires root)', () => {
  let dir: string;
  let probe: string;
  beforeAll(() => ({ dir, probe } = setupNative()));
  afterAll(() => cleanup(dir));

  it('shows the first app process PID 2 with the prototype as PID 1 in a pid namespace', async () => {
    const proto = await startPrototype({ type: 'external', isolation: { namespaces: { pid: true } } });
    try {
      const { report, hostPid } = await runProbe(proto, probe, dir);
      expect(report.pid).toBe(2);
      expect(report.ppid).toBe(1);
      expect(report.NSpid.split(/\s+/).map(Number)).toEqual([hostPid, 2]);
    } finally {
      await proto.close();
    }
  });

  it('runs several processes of one app in the same namespaces, alive at the same time', async () => {
    const namespaces = { pid: true, mount: true, network: true, uname: true, ipc: true, credential: true };
    const proto = await startPrototype({ type: 'external', user: 'root', isolation: { namespaces } });
    const pairs = [fdPass().socketpair(), fdPass().socketpair()];
    try {
      const outs = [path.join(dir, 'w1.json'), path.join(dir, 'w2.json')];
      const procs = [];
      for (let i = 0; i < 2; i++) {
        procs.push(await proto.spawn({ executable: probe, argv: ['probe', 'wait'], env: {}, stdout: outs[i] }, [pairs[i][1]]));
        closeSync(pairs[i][1]);
      }
      expect(procs[0].pid).not.toBe(procs[1].pid);
      // both alive now; let them go
      for (const [ours] of pairs) closeSync(ours);
      const exits = await Promise.all(procs.map((p) => p.exited));
      expect(exits).toEqual([
        { code: 0, signal: null },
        { code: 0, signal: null },
      ]);
      const [a, b] = outs.map((f) => JSON.parse(readFileSync(f, 'utf8')));
      expect(a.ns).toEqual(b.ns);
      expect([a.pid, b.pid].sort()).toEqual([2, 3]);
    } finally {
      await proto.close();
    }
  });

  it('reaps orphaned children of app processes (no zombies)', async () => {
    const proto = await startPrototype({ type: 'external', isolation: { namespaces: { pid: true } } });
    try {
      const { report } = await runProbe(proto, probe, dir, ['orphan']);
      expect(report.orphan).toBeGreaterThan(2);
      // The orphan exits once its parent is gone; the prototype (PID 1) must collect it.
      expect(await waitUntil(() => childrenOf(proto.pid).length === 0)).toBe(true);
    } finally {
      await proto.close();
    }
  });

  it('reaps orphans without a pid namespace too (the prototype is a child subreaper)', async () => {
    const proto = await startPrototype({ type: 'external', isolation: { namespaces: { uname: true } } });
    try {
      const { report } = await runProbe(proto, probe, dir, ['orphan']);
      expect(report.orphan).toBeGreaterThan(1);
      expect(await waitUntil(() => childrenOf(proto.pid).length === 0)).toBe(true);
    } finally {
      await proto.close();
    }
  });

  it('puts the given fds at 3, 4, ... in the app process', async () => {
    const proto = await startPrototype({ type: 'external', isolation: { namespaces: { pid: true, network: true } } });
    const [a, b] = fdPass().socketpair();
    const [c, d] = fdPass().socketpair();
    try {
      const { report } = await runProbe(proto, probe, dir, ['fds'], [b, d]);
      expect(Object.keys(report.fds as object)).toEqual(['3', '4']);
      expect((report.fds as Record<string, string>)['3']).toMatch(/^socket:/);
    } finally {
      for (const fd of [a, b, c, d]) closeSync(fd);
      await proto.close();
    }
  });

  it('maps host uid 1000 to container root when credential is on', async () => {
    const map = [{ host: 1000, container: 0, size: 1000 }];
    const proto = await startPrototype({
      type: 'external',
      user: 'root',
      isolation: { namespaces: { credential: true, pid: true }, uidmap: map, gidmap: map },
    });
    const [ours, theirs] = fdPass().socketpair();
    try {
      const out = path.join(dir, 'cred.json');
      const proc = await proto.spawn({ executable: probe, argv: ['probe', 'wait'], env: {}, stdout: out }, [theirs]);
      closeSync(theirs);
      // From the host, the process runs as uid/gid 1000.
      expect(await waitUntil(() => readFileSync(out, 'utf8').includes('}'))).toBe(true);
      expect(hostStatus(proc.pid, 'Uid')?.split(/\s+/)).toEqual(['1000', '1000', '1000', '1000']);
      expect(hostStatus(proc.pid, 'Gid')?.split(/\s+/)).toEqual(['1000', '1000', '1000', '1000']);
      closeSync(ours);
      await proc.exited;
      const report = JSON.parse(readFileSync(out, 'utf8'));
      expect([report.uid, report.gid, report.euid]).toEqual([0, 0, 0]);
    } finally {
      await proto.close();
    }
  });

  it('writes maps of more than 5 lines (the kernel takes up to 340)', async () => {
    const map = Array.from({ length: 20 }, (_, i) => ({ container: i * 100, host: 100000 + i * 100, size: 100 }));
    const proto = await startPrototype({
      type: 'external',
      user: 'root',
      isolation: { namespaces: { credential: true }, uidmap: map, gidmap: map },
    });
    try {
      const { report, hostPid } = await runProbe(proto, probe, dir, ['read', '/proc/self/uid_map']);
      expect(report.uid).toBe(0);
      expect((report.read as string).trim().split('\n')).toHaveLength(20);
      expect(hostPid).toBeGreaterThan(0);
    } finally {
      await proto.close();
    }
  });

  it('applies the default map (the app uid to itself) when credential is on without maps', async () => {
    const proto = await startPrototype({ type: 'external', user: 'nobody', isolation: { namespaces: { credential: true } } });
    try {
      const { report } = await runProbe(proto, probe, dir);
      expect([report.uid, report.gid]).toEqual([65534, 65534]);
    } finally {
      await proto.close();
    }
  });

  it('brings up lo and shows no other interface in a network namespace', async () => {
    const proto = await startPrototype({ type: 'external', isolation: { namespaces: { network: true } } });
    try {
      const { report } = await runProbe(proto, probe, dir);
      expect(report.interfaces).toEqual(['lo']);
      expect(report.lo_up).toBe(true);
    } finally {
      await proto.close();
    }
  });

  it('sets the hostname with uname and the hostname extension, keeps the host one otherwise', async () => {
    const named = await startPrototype({ type: 'external', isolation: { namespaces: { uname: true }, hostname: 'app-1' } });
    const plain = await startPrototype({ type: 'external', isolation: { namespaces: { uname: true } } });
    try {
      expect((await runProbe(named, probe, dir)).report.hostname).toBe('app-1');
      expect((await runProbe(plain, probe, dir)).report.hostname).toBe(hostname());
    } finally {
      await named.close();
      await plain.close();
    }
  });

  it('reports a failed exec as ApplyError with step and errno, and keeps the prototype usable', async () => {
    const proto = await startPrototype({ type: 'external', isolation: { namespaces: { pid: true } } });
    try {
      const err = await proto.spawn({ executable: '/nonexistent/app', argv: ['app'], env: {} }, []).catch((e) => e);
      expect(err).toBeInstanceOf(ApplyError);
      expect([err.step, err.errno, err.app]).toEqual(['execve', 2, 'probe']);
      expect((await runProbe(proto, probe, dir)).exit).toEqual({ code: 0, signal: null });
    } finally {
      await proto.close();
    }
  });

  it('reports exit codes and signals of app processes', async () => {
    const proto = await startPrototype({ type: 'external', isolation: { namespaces: { pid: true } } });
    const [ours, theirs] = fdPass().socketpair();
    try {
      const code = await proto.spawn({ executable: probe, argv: ['probe', 'exit', '7'], env: {} }, []);
      expect(await code.exited).toEqual({ code: 7, signal: null });
      const waiting = await proto.spawn({ executable: probe, argv: ['probe', 'wait'], env: {}, stdout: '/dev/null' }, [theirs]);
      waiting.kill('SIGKILL');
      expect(await waiting.exited).toEqual({ code: null, signal: 'SIGKILL' });
    } finally {
      closeSync(ours);
      closeSync(theirs);
      await proto.close();
    }
  });

  it('turns a failing child op into ApplyError naming the step and errno', async () => {
    const { plan, c } = planFor({ type: 'external', isolation: { namespaces: { mount: true } } });
    plan.childOps.push({ op: 'mount', phase: PHASE.MOUNT_SYSTEM, target: '/nonexistent-warden/x', source: 'none', fstype: 'tmpfs' });
    const err = await c
      .resolve<ProcessSpawner>(TOKENS.ProcessSpawner)
      .createPrototype('probe', plan)
      .catch((e) => e);
    expect(err).toBeInstanceOf(ApplyError);
    expect([err.step, err.errno]).toEqual(['mount', 2]);
    expect(err.message).toContain('/nonexistent-warden/x');
  });

  it('rejects with ApplyError (step "helper") when the spawn helper cannot be started', async () => {
    const saved = process.env.WARDEN_SPAWN_HELPER;
    process.env.WARDEN_SPAWN_HELPER = '/nonexistent/warden-spawn';
    try {
      const err = await startPrototype({ type: 'external', isolation: { namespaces: { pid: true } } }).catch((e) => e);
      expect(err).toBeInstanceOf(ApplyError);
      expect([err.step, err.errno]).toEqual(['helper', 2]);
      expect(err.message).toContain('/nonexistent/warden-spawn');
    } finally {
      if (saved === undefined) delete process.env.WARDEN_SPAWN_HELPER;
      else process.env.WARDEN_SPAWN_HELPER = saved;
    }
  });

  it('reports its app processes as killed and refuses spawns when the prototype dies', async () => {
    const proto = await startPrototype({ type: 'external', isolation: { namespaces: { pid: true } } });
    const [ours, theirs] = fdPass().socketpair();
    try {
      const proc = await proto.spawn({ executable: probe, argv: ['probe', 'wait'], env: {}, stdout: '/dev/null' }, [theirs]);
      process.kill(proto.pid, 'SIGKILL');
      expect(await proc.exited).toEqual({ code: null, signal: 'SIGKILL' });
      const err = await proto.spawn({ executable: probe, argv: ['probe'], env: {} }, []).catch((e) => e);
      expect(err).toBeInstanceOf(ApplyError);
    } finally {
      closeSync(ours);
      closeSync(theirs);
      await proto.close();
    }
  });

  it('kills the app processes when the prototype is closed', async () => {
    const proto = await startPrototype({ type: 'external', isolation: { namespaces: { pid: true } } });
    const [ours, theirs] = fdPass().socketpair();
    const proc = await proto.spawn({ executable: probe, argv: ['probe', 'wait'], env: {}, stdout: '/dev/null' }, [theirs]);
    closeSync(theirs);
    await proto.close();
    expect(await proc.exited).toEqual({ code: null, signal: 'SIGTERM' });
    closeSync(ours);
  });
});
