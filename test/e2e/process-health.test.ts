// Issue 16: one stuck process must not blackhole its app; a dead prototype is recreated; a large pool starts without
// stalling the server.
import { request } from 'http';
import { join } from 'path';
import { ROOT, cleanup, freePort, goBuild, haveGo, http, startWardend, waitUntil, worldDir, type Wardend } from './support/wardend';

const describeGo = haveGo() ? describe : describe.skip;
if (!haveGo()) console.warn('process health e2e skipped: `go` is not installed (scripts/setup.sh installs golang-go)');

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

describeGo('process health', () => {
  let dir: string;
  let echo: string;
  let w: Wardend;
  const stopped: number[] = [];

  async function app(name: string, conf: Record<string, unknown>): Promise<number> {
    const port = await freePort();
    const res = await w.control('PUT', `/config/applications/${name}`, { type: 'external', executable: echo, ...conf });
    expect(res).toEqual({ status: 200, body: { success: 'Reconfiguration done.' } });
    expect((await w.control('PUT', `/config/listeners/127.0.0.1:${port}`, { pass: `applications/${name}` })).status).toBe(200);
    return port;
  }
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
    process.kill(last, 'SIGSTOP');
    stopped.push(last);
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
    process.kill(victim, 'SIGSTOP');
    stopped.push(victim);
    // A request sent to it is moved; the process is replaced once it has been stuck for limits.timeout.
    for (let i = 0; i < 4; i++) expect((await timedGet(port, '/pid', 2000)).status).toBe(200);
    await waitUntil(() => !alive(victim), 'the stopped process was killed', 8000);
    await waitUntil(async () => (await status('hung')).processes.running === 2, 'two processes run again', 8000);
  });

  it('counts a request whose client went away as in flight on a process that never read it', async () => {
    const port = await app('aborted', { processes: 2 });
    const first = Number((await timedGet(port, '/pid', 2000)).body);
    process.kill(first, 'SIGSTOP');
    stopped.push(first);
    // Clients that give up early must not make the stuck process look idle again.
    for (let i = 0; i < 6; i++) await timedGet(port, '/pid', 50);
    const answers = [];
    for (let i = 0; i < 10; i++) answers.push(await timedGet(port, '/pid', 2000));
    expect(answers.map((a) => a.status)).toEqual(Array(10).fill(200));
    expect(Math.max(...answers.map((a) => a.ms))).toBeLessThan(1000);
  });
});
