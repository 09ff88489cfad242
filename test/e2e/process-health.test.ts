// Issue 16: one stuck process must not blackhole its app; a dead prototype is recreated; a large pool starts without
// stalling the server.
import { existsSync, readdirSync, readFileSync, rmSync } from 'fs';
import { request } from 'http';
import { cpus, loadavg } from 'os';
import { join } from 'path';
import { ROOT, cleanup, goBuild, haveGo, isRoot, putAppWithListener, startWardend, waitUntil, worldDir, type Wardend } from './support/wardend';

const describeGo = haveGo() ? describe : describe.skip;
if (!haveGo()) console.warn('process health e2e skipped: `go` is not installed (scripts/setup.sh installs golang-go)');
if (!isRoot) console.warn('process health e2e: the prototype test is skipped, it requires root (a pid namespace)');

/** GET with a client timeout: resolves with the status (0 when the client gave up) and the time taken. */
function timedGet(port: number, path: string, timeoutMs: number): Promise<{ status: number; ms: number; body: string }> {
  const t0 = Date.now();
  return new Promise((ok) => {
    const req = request({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (body += c));
      res.on('end', () => ok({ status: res.statusCode ?? 0, ms: Date.now() - t0, body }));
      res.on('error', () => ok({ status: 0, ms: Date.now() - t0, body }));
    });
    req.setTimeout(timeoutMs, () => req.destroy());
    req.on('error', () => ok({ status: 0, ms: Date.now() - t0, body: '' }));
    req.end();
  });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * SIGSTOP, then waits until every thread of the process has stopped (state `T`): kill() returns while the stop is
 * still pending, and a thread running on another CPU of a loaded VM can still answer a request meanwhile (a CI run
 * saw the stopped process answer one of the 20 requests sent right after the kill).
 */
async function stopProcess(pid: number): Promise<void> {
  process.kill(pid, 'SIGSTOP');
  const stoppedThread = (tid: string) => {
    try {
      return readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8').replace(/^.*\) /s, '')[0] === 'T';
    } catch {
      return true; // the thread is gone
    }
  };
  await waitUntil(() => readdirSync(`/proc/${pid}/task`).every(stoppedThread), `process ${pid} stopped`, 5000);
}

/** Host pids of the children of `pid` (forked by any of its threads). */
function childrenOf(pid: number): number[] {
  return readdirSync(`/proc/${pid}/task`).flatMap((tid) =>
    readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number),
  );
}

/** The prototypes of wardend's isolated apps: the children of its spawn helpers. */
function prototypesOf(wardend: Wardend): number[] {
  if (wardend.proc.pid === undefined) throw new Error('wardend was not spawned');
  const helpers = childrenOf(wardend.proc.pid).filter((c) => readFileSync(`/proc/${c}/comm`, 'utf8').trim() === 'warden-spawn');
  return helpers.flatMap(childrenOf);
}

describeGo('process health', () => {
  let dir: string;
  let echo: string;
  let w: Wardend;
  const stopped: number[] = [];

  const app = (name: string, conf: Record<string, unknown>) => putAppWithListener(w, name, { type: 'external', executable: echo, ...conf });
  const status = async (name: string) => (await w.control('GET', `/status/applications/${name}`)).body;

  beforeAll(async () => {
    dir = worldDir('warden-health-');
    echo = goBuild(join(ROOT, 'test/e2e/apps/echo'), join(dir, 'echo'));
    w = await startWardend([], dir);
    expect((await w.control('PUT', '/config', { listeners: {}, applications: {} })).status).toBe(200);
  });
  afterAll(async () => {
    for (const pid of stopped) if (alive(pid)) process.kill(pid, 'SIGCONT');
    await w?.stop();
    cleanup(dir);
  });

  it('serves 20 of 20 sequential requests in under 1 s each after kill -STOP of the process that answered last', async () => {
    const port = await app('stuck', { processes: 2 });
    const last = Number((await timedGet(port, '/pid', 2000)).body);
    stopped.push(last);
    await stopProcess(last);
    const answers = [];
    for (let i = 0; i < 20; i++) answers.push(await timedGet(port, '/pid', 2000));
    expect(answers.map((a) => a.status)).toEqual(Array(20).fill(200));
    expect(Math.max(...answers.map((a) => a.ms))).toBeLessThan(1000);
    expect(answers.every((a) => Number(a.body) !== last)).toBe(true);
    expect(w.log()).toMatch(/not reading its requests; out of rotation/);
  });

  it('replaces a stopped process (SIGTERM, then SIGKILL) once it has not read its requests within limits.timeout', async () => {
    const port = await app('hung', { processes: 2, limits: { timeout: 1 } });
    const victim = Number((await timedGet(port, '/pid', 2000)).body);
    stopped.push(victim);
    await stopProcess(victim);
    // A request sent to it is moved; the process is replaced once it has been stuck for limits.timeout.
    for (let i = 0; i < 4; i++) expect((await timedGet(port, '/pid', 2000)).status).toBe(200);
    await waitUntil(() => !alive(victim), 'the stopped process was killed', 8000);
    await waitUntil(async () => (await status('hung')).processes.running === 2, 'two processes run again', 8000);
  });

  it('replaces the only process of an app after the 10 s health deadline and serves the requests it never read', async () => {
    const port = await app('lonely', {});
    const victim = Number((await timedGet(port, '/pid', 2000)).body);
    stopped.push(victim);
    await stopProcess(victim);
    const answer = await timedGet(port, '/pid', 15000);
    expect(answer.status).toBe(200);
    expect(Number(answer.body)).not.toBe(victim);
    expect(answer.ms).toBeGreaterThanOrEqual(9000); // it waited for the health deadline, no longer
    await waitUntil(() => !alive(victim), 'the stopped process was killed', 5000);
  }, 30000);

  it('counts a request whose client went away as in flight on a process that never read it', async () => {
    const port = await app('aborted', { processes: 2 });
    const first = Number((await timedGet(port, '/pid', 2000)).body);
    stopped.push(first);
    await stopProcess(first);
    // Clients that give up early must not make the stuck process look idle again.
    for (let i = 0; i < 6; i++) await timedGet(port, '/pid', 50);
    const answers = [];
    for (let i = 0; i < 10; i++) answers.push(await timedGet(port, '/pid', 2000));
    expect(answers.map((a) => a.status)).toEqual(Array(10).fill(200));
    expect(Math.max(...answers.map((a) => a.ms))).toBeLessThan(1000);
  });

  (isRoot ? it : it.skip)('recreates a prototype killed with SIGKILL: serving resumes within 2 s and no request hangs', async () => {
    const others = new Set(prototypesOf(w)); // of the other isolated apps of this wardend
    const port = await app('phoenix', { processes: 2, isolation: { namespaces: { pid: true } } });
    expect((await timedGet(port, '/pid', 2000)).status).toBe(200);
    const [proto] = prototypesOf(w).filter((p) => !others.has(p));
    expect(proto).toBeGreaterThan(0);
    const results: { at: number; status: number; ms: number }[] = [];
    let stop = false;
    const loops = Array.from({ length: 4 }, async () => {
      while (!stop) results.push({ at: Date.now(), ...(await timedGet(port, '/pid', 5000)) });
    });
    await waitUntil(() => results.length >= 20, 'the load is running', 5000);
    const killedAt = Date.now();
    process.kill(proto!, 'SIGKILL');
    await waitUntil(() => results.some((r) => r.at > killedAt && r.status === 200), 'a request after the kill succeeded', 5000);
    stop = true;
    await Promise.all(loops);
    const resumed = results.find((r) => r.at > killedAt && r.status === 200)!;
    expect(resumed.at + resumed.ms - killedAt).toBeLessThan(2000);
    expect(results.filter((r) => r.status === 0)).toEqual([]); // nothing hung until the client gave up
    expect(results.every((r) => [200, 502, 503].includes(r.status))).toBe(true);
    expect(prototypesOf(w)).not.toContain(proto);
    expect(w.log()).toMatch(/the prototype of the application exited; recreating it/);
    expect(w.log()).not.toMatch(/its prototype is not running/);
  });

  (isRoot ? it : it.skip)('kills what an exited app process left in its pid namespace before replacing it', async () => {
    const others = new Set(prototypesOf(w)); // of the other isolated apps of this wardend
    const port = await app('forker', { processes: 1, isolation: { namespaces: { pid: true } } });
    expect((await timedGet(port, '/fork?n=5', 2000)).body).toBe('forked 5');
    const [proto] = prototypesOf(w).filter((p) => !others.has(p));
    const descendants = (pid: number): number[] => childrenOf(pid).flatMap((c) => [c, ...descendants(c)]);
    const comms = () => descendants(proto!).map((c) => readFileSync(`/proc/${c}/comm`, 'utf8').trim());
    expect(comms().sort()).toEqual(['echo', 'sleep', 'sleep', 'sleep', 'sleep', 'sleep']);
    const before = (await timedGet(port, '/pid', 2000)).body;
    expect((await timedGet(port, '/exit', 2000)).body).toBe('bye');
    await waitUntil(
      async () => {
        const r = await timedGet(port, '/pid', 2000);
        return r.status === 200 && r.body !== before; // served by the replacement
      },
      'a replacement serves',
      8000,
    );
    expect(comms()).toEqual(['echo']); // the replacement, and nothing the old process left
    expect(await w.waitForLog(/killed processes the app process left behind/, 5000)).toMatch(/"killed":5/);
  });

  it('refuses more processes than the documented bound of 512 with a reason', async () => {
    const res = await w.control('PUT', '/config/applications/huge', { type: 'external', executable: echo, processes: 100000 });
    expect(res.status).toBe(400);
    expect(res.body.detail).toContain('The "processes" number must not exceed 512');
  });

  it('starts 300 processes while another app keeps its p99 latency under 100 ms', async () => {
    const steady = await app('steady', {});
    const latencies: number[] = [];
    let stop = false;
    const probe = (async () => {
      while (!stop) {
        const r = await timedGet(steady, '/pid', 5000);
        expect(r.status).toBe(200);
        latencies.push(r.ms);
      }
    })();
    await waitUntil(() => latencies.length >= 20, 'the probe is running', 5000);
    await new Promise((r) => setTimeout(r, 3000));
    const base = [...latencies].sort((a, b) => a - b);
    console.log(`baseline: ${base.length} requests, p50 ${base[Math.floor(base.length / 2)]} ms, p99 ${base[Math.floor(base.length * 0.99)]} ms`);
    latencies.length = 0;
    const started = Date.now();
    await app('many', { processes: 300 });
    await waitUntil(async () => (await status('many')).processes.running === 300, '300 processes run', 60000);
    const took = Date.now() - started;
    stop = true;
    await probe;
    latencies.sort((a, b) => a - b);
    const p99 = latencies[Math.floor(latencies.length * 0.99)]!;
    console.log(
      `300 processes started in ${took} ms; probe: ${latencies.length} requests, p50 ${latencies[Math.floor(latencies.length / 2)]} ms, p99 ${p99} ms, max ${latencies[latencies.length - 1]} ms`,
    );
    // The bound is for a machine that is not overloaded; on one whose run queue is longer than its cores (shared CI,
    // `npm test` running suites in parallel), scheduling delays alone exceed it, and the bound is only a sanity check.
    const overloaded = loadavg()[0]! > cpus().length;
    if (overloaded) console.warn(`load average ${loadavg()[0]} on ${cpus().length} cores: p99 bound relaxed to 2000 ms`);
    expect(p99).toBeLessThan(overloaded ? 2000 : 100);
    expect((await w.control('DELETE', '/config/applications/many')).status).toBe(400); // still passed to by its listener
  }, 90000);
});

describeGo('an apply in progress at SIGTERM', () => {
  it('ends within the shutdown grace: the apply rolls back and wardend exits 0', async () => {
    const dir = worldDir('warden-sigterm-');
    let w: Wardend | undefined;
    try {
      w = await startWardend([], dir);
      // A process that never says READY: the apply would wait for the whole ready timeout (15 s).
      const put = w
        .control('PUT', '/config', {
          listeners: {},
          applications: { mute: { type: 'external', executable: '/bin/sleep', arguments: ['60'] } },
        })
        .catch(() => undefined); // answered 500 or cut by the exit: either way not applied
      await w.waitForLog(/app process started/);
      const t0 = Date.now();
      const exited = new Promise<number | null>((ok) => w!.proc.once('exit', (code) => ok(code)));
      w.proc.kill('SIGTERM');
      expect(await exited).toBe(0);
      expect(Date.now() - t0).toBeLessThan(5000);
      await put;
    } finally {
      await w?.stop();
      cleanup(dir);
    }
  });
});

const describeRootGo = isRoot && haveGo() ? describe : describe.skip;
if (!isRoot) console.warn('stale cgroup e2e skipped: requires root (cgroups)');

describeRootGo('cgroups of a SIGKILLed wardend', () => {
  it('are removed when the next wardend starts', async () => {
    const dir = worldDir('warden-stale-cg-');
    const echo = goBuild(join(ROOT, 'test/e2e/apps/echo'), join(dir, 'echo'));
    const cgPath = `warden-stale-${process.pid}-${Date.now()}`;
    let w: Wardend | undefined;
    try {
      w = await startWardend([], dir);
      const res = await w.control('PUT', '/config', {
        listeners: {},
        applications: { cg: { type: 'external', executable: echo, isolation: { namespaces: { pid: true }, cgroup: { path: cgPath } } } },
      });
      expect(res.status).toBe(200);
      // The app's cgroup, in the pids hierarchy (under wardend's own cgroup there).
      const own = /^\d+:pids:(.*)$/m.exec(readFileSync(`/proc/${w.proc.pid}/cgroup`, 'utf8'))?.[1];
      if (own === undefined) {
        console.warn('stale cgroup e2e: no v1 pids hierarchy on this machine; only checking that the restart works');
      }
      const cgDir = own !== undefined ? join('/sys/fs/cgroup/pids', own, cgPath) : undefined;
      if (cgDir) expect(existsSync(cgDir)).toBe(true);
      const exited = new Promise((ok) => w!.proc.once('exit', ok));
      w.proc.kill('SIGKILL');
      await exited;
      if (cgDir) {
        await waitUntil(() => readFileSync(join(cgDir, 'cgroup.procs'), 'utf8').trim() === '', 'the app processes died with wardend', 5000);
        expect(existsSync(cgDir)).toBe(true); // left behind
      }
      rmSync(join(dir, 'state', 'conf.json')); // the next wardend runs without that app
      w = await startWardend([], dir);
      if (cgDir) expect(existsSync(cgDir)).toBe(false);
      expect(w.log()).toMatch(cgDir ? /removed the cgroups a previous wardend left behind/ : /wardend ready/);
    } finally {
      await w?.stop();
      cleanup(dir);
    }
  });
});
