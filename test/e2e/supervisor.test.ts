import { request } from 'http';
import { join } from 'path';
import { ROOT, cleanup, freePort, goBuild, haveGo, http, startWardend, waitUntil, worldDir, type Wardend } from './support/wardend';

const describeGo = haveGo() ? describe : describe.skip;
if (!haveGo()) console.warn('supervisor e2e skipped: `go` is not installed (scripts/setup.sh installs golang-go)');

describeGo('the supervisor: process pools, limits, restarts', () => {
  let dir: string;
  let echo: string;
  let w: Wardend;

  beforeAll(async () => {
    dir = worldDir('warden-sup-');
    echo = goBuild(join(ROOT, 'test/e2e/apps/echo'), join(dir, 'echo'));
    w = await startWardend([], dir);
    expect((await w.control('PUT', '/config', { listeners: {}, applications: {} })).status).toBe(200);
  });
  afterAll(async () => {
    await w?.stop();
    cleanup(dir);
  });

  /** PUTs one app with its own listener; returns the port. */
  async function app(name: string, extra: Record<string, unknown>): Promise<number> {
    const port = await freePort();
    const res = await w.control('PUT', `/config/applications/${name}`, { type: 'external', executable: echo, ...extra });
    expect(res).toEqual({ status: 200, body: { success: 'Reconfiguration done.' } });
    expect((await w.control('PUT', `/config/listeners/127.0.0.1:${port}`, { pass: `applications/${name}` })).status).toBe(200);
    return port;
  }
  const pidOf = async (port: number) => Number((await http(port, '/pid')).body.toString());
  const status = async (name: string) => (await w.control('GET', `/status/applications/${name}`)).body;
  /** Waits until the pool's status satisfies `ok` (pool changes have no event to subscribe to). */
  async function until(name: string, ok: (s: any) => boolean, timeoutMs = 15000): Promise<any> {
    let last: any;
    await waitUntil(async () => ok((last = await status(name))), `the status of ${name} matches`, timeoutMs);
    return last;
  }

  it('runs exactly three processes for "processes": 3', async () => {
    await app('three', { processes: 3 });
    const s = await status('three');
    expect(s.processes).toEqual({ running: 3, starting: 0, idle: 3 });
  });

  it('scales {max: 4, spare: 1, idle_timeout: 2} up under concurrent load and back down when idle', async () => {
    const port = await app('elastic', { processes: { max: 4, spare: 1, idle_timeout: 2 } });
    expect((await status('elastic')).processes.running).toBe(1);
    const load = Array.from({ length: 12 }, () => http(port, '/sleep?ms=400'));
    const peak = await until('elastic', (s) => s.processes.running + s.processes.starting > 1);
    expect(peak.processes.running + peak.processes.starting).toBeLessThanOrEqual(4);
    const answers = await Promise.all(load);
    expect(answers.every((a) => a.status === 200)).toBe(true);
    await until('elastic', (s) => s.processes.running === 1, 10000);
  });

  it('replaces a process after limits.requests requests', async () => {
    const port = await app('limited', { processes: 1, limits: { requests: 10 } });
    const pids = [];
    for (let i = 0; i < 11; i++) pids.push(await pidOf(port));
    expect(new Set(pids.slice(0, 10)).size).toBe(1);
    expect(pids[10]).not.toBe(pids[0]);
  });

  it('answers 503 when the app exceeds limits.timeout', async () => {
    const port = await app('slowpoke', { limits: { timeout: 1 } });
    const started = Date.now();
    const res = await http(port, '/sleep?ms=3000');
    expect(res.status).toBe(503);
    expect(Date.now() - started).toBeLessThan(2900);
    expect((await http(port, '/sleep?ms=10')).status).toBe(200);
  });

  it('streams a chunked response: the first chunk arrives before the handler finishes', async () => {
    const port = await app('streamer', {});
    const times = await new Promise<{ first: number; end: number; body: string }>((ok, fail) => {
      const t0 = Date.now();
      let first = 0;
      let body = '';
      request({ host: '127.0.0.1', port, path: '/slow?ms=800' }, (res) => {
        res.on('data', (c) => {
          if (!first) first = Date.now() - t0;
          body += c;
        });
        res.on('end', () => ok({ first, end: Date.now() - t0, body }));
      })
        .on('error', fail)
        .end();
    });
    expect(times.body).toBe('first\nsecond\n');
    expect(times.first).toBeLessThan(times.end - 500);
  });

  it('restarts one app through the control API and leaves the other app untouched', async () => {
    const a = await app('alpha', {});
    const b = await app('beta', {});
    const [pa, pb] = [await pidOf(a), await pidOf(b)];
    const res = await w.control('GET', '/control/applications/alpha/restart');
    expect(res).toEqual({ status: 200, body: { success: 'Ok' } });
    expect(await pidOf(a)).not.toBe(pa);
    expect(await pidOf(b)).toBe(pb);
    expect((await w.control('GET', '/control/applications/nope/restart')).status).toBe(404);
  });

  it('keeps unchanged apps running across a config change of another app', async () => {
    const a = await app('gamma', {});
    const b = await app('delta', {});
    const [pa, pb] = [await pidOf(a), await pidOf(b)];
    expect((await w.control('PUT', '/config/applications/gamma/environment', { CHANGED: '1' })).status).toBe(200);
    expect(await pidOf(a)).not.toBe(pa);
    expect(await pidOf(b)).toBe(pb);
  });

  it('refuses an app that cannot start with 500 and keeps the old config', async () => {
    const before = (await w.control('GET', '/config')).body;
    const res = await w.control('PUT', '/config/applications/broken', { type: 'external', executable: join(dir, 'missing') });
    expect(res.status).toBe(500);
    expect(res.body.error).toBe('Failed to apply new configuration.');
    expect(res.body.detail).toMatch(/broken/);
    expect((await w.control('GET', '/config')).body).toEqual(before);
  });

  it('says that an executable which is no Warden app exited, with its code, and what an app must use', async () => {
    const res = await w.control('PUT', '/config/applications/not-an-app', { type: 'external', executable: '/bin/true' });
    expect(res.status).toBe(500);
    expect(res.body.detail).toMatch(/exited before it was ready \(exit code 0\)/);
    expect(res.body.detail).toContain('warden.ListenAndServe');
    expect(res.body.detail).not.toContain('PEER_GONE');
  });
});
