// A restart (an app's environment changed) drains the old processes: a request whose body is still arriving when
// the drain starts is served to its end by the old process, however long it takes (Unit's router sends QUIT only to
// processes without responses pending, nxt_router_app_quit: a long upload or report is not cut at a deadline).
import { request } from 'http';
import { join } from 'path';
import { ROOT, cleanup, freePort, goBuild, haveGo, startWardend, worldDir, type Wardend } from './support/wardend';

const describeGo = haveGo() ? describe : describe.skip;
if (!haveGo()) console.warn('restart-drain e2e skipped: go is not installed');

describeGo('draining on a restart', () => {
  let dir: string;
  let w: Wardend;
  let port: number;

  beforeAll(async () => {
    dir = worldDir('warden-drain-');
    const bin = goBuild(join(ROOT, 'test/soak/apps/go'), join(dir, 'soak-go'));
    w = await startWardend([], dir);
    port = await freePort();
    const res = await w.control('PUT', '/config', {
      listeners: { [`127.0.0.1:${port}`]: { pass: 'applications/go' } },
      applications: {
        go: { type: 'external', executable: bin, processes: 1, environment: { SOAK_APP: 'go', SOAK_GEN: '0' } },
        node: {
          type: 'node',
          working_directory: join(ROOT, 'test/soak/apps/node'),
          script: 'app.js',
          processes: 1,
          environment: { SOAK_APP: 'node', SOAK_GEN: '0' },
        },
      },
      settings: { http: { max_body_size: 4 << 20 } },
    });
    expect(res.status).toBe(200);
  });
  afterAll(async () => {
    await w?.stop();
    cleanup(dir);
  });

  it.each(['go', 'node'])('a %s app echoes a POST whose body is still arriving when its app restarts', async (app) => {
    const pass = await w.control('PUT', `/config/listeners/127.0.0.1:${port}/pass`, JSON.stringify(`applications/${app}`));
    expect(pass.status).toBe(200);
    const part = Buffer.alloc(256 << 10, 'x');
    let sent = 0;
    const done = new Promise<{ status: number; bytes: number; err?: string }>((ok) => {
      const req = request({ host: '127.0.0.1', port, path: '/post', method: 'POST', headers: { 'Content-Length': 4 * part.length } }, (res) => {
        let bytes = 0;
        res.on('data', (c: Buffer) => (bytes += c.length));
        res.on('end', () => ok({ status: res.statusCode ?? 0, bytes }));
        res.on('error', (e) => ok({ status: res.statusCode ?? 0, bytes, err: e.message }));
      });
      req.on('error', (e) => ok({ status: 0, bytes: 0, err: e.message }));
      req.write(part);
      sent++;
      (async () => {
        const r = await w.control('PUT', `/config/applications/${app}/environment/SOAK_GEN`, JSON.stringify(`${Date.now()}`));
        expect(r.status).toBe(200);
        for (; sent < 4; sent++) req.write(part);
        req.end();
      })().catch((e: unknown) => req.destroy(e as Error)); // a failed PUT fails the answer below with its message
    });
    expect(await done).toEqual({ status: 200, bytes: 4 * part.length });
  });

  it.each(['go', 'node'])('a %s app sends all of a 4 MiB answer to a client that reads it only after its app restarted', async (app) => {
    const pass = await w.control('PUT', `/config/listeners/127.0.0.1:${port}/pass`, JSON.stringify(`applications/${app}`));
    expect(pass.status).toBe(200);
    const got = await new Promise<{ status: number; bytes: number; err?: string }>((ok) => {
      const req = request({ host: '127.0.0.1', port, path: '/big?kb=4096' }, (res) => {
        let bytes = 0;
        res.pause();
        res.on('data', (c: Buffer) => (bytes += c.length));
        res.on('end', () => ok({ status: res.statusCode ?? 0, bytes }));
        res.on('error', (e) => ok({ status: res.statusCode ?? 0, bytes, err: e.message }));
        void w.control('PUT', `/config/applications/${app}/environment/SOAK_GEN`, JSON.stringify(`${Date.now()}`)).then((r) => {
          expect(r.status).toBe(200);
          res.resume();
        });
      });
      req.on('error', (e) => ok({ status: 0, bytes: 0, err: e.message }));
      req.end();
    });
    expect(got).toEqual({ status: 200, bytes: 4 << 20 });
  });

  it('a request that takes longer than the drain grace (10 s) finishes on the old processes of a Go and a Node app', async () => {
    // Two listeners, one per app, so that both slow requests run at once.
    const ports = { go: await freePort(), node: await freePort() };
    const listeners = await w.control('PUT', '/config/listeners', {
      [`127.0.0.1:${port}`]: { pass: 'applications/go' },
      [`127.0.0.1:${ports.go}`]: { pass: 'applications/go' },
      [`127.0.0.1:${ports.node}`]: { pass: 'applications/node' },
    });
    expect(listeners.status).toBe(200);
    const part = Buffer.alloc(1024, 'y');
    const pieces = 12; // one a second after the restart: the body ends 12 s after the drain began
    const slowPost = (p: number) =>
      new Promise<{ status: number; bytes: number; gen?: string; err?: string }>((ok) => {
        const req = request({ host: '127.0.0.1', port: p, path: '/post', method: 'POST', headers: { 'Content-Length': (pieces + 1) * part.length } }, (res) => {
          let bytes = 0;
          res.on('data', (c: Buffer) => (bytes += c.length));
          res.on('end', () => ok({ status: res.statusCode ?? 0, bytes, gen: res.headers['x-soak-gen'] as string }));
          res.on('error', (e) => ok({ status: res.statusCode ?? 0, bytes, err: e.message }));
        });
        req.on('error', (e) => ok({ status: 0, bytes: 0, err: e.message }));
        req.write(part);
        let sent = 0;
        const tick = setInterval(() => {
          if (req.destroyed) return clearInterval(tick);
          if (++sent === pieces) {
            clearInterval(tick);
            req.end(part);
          } else req.write(part);
        }, 1000);
      });
    const before = { go: 'g-before', node: 'n-before' };
    for (const app of ['go', 'node'] as const) {
      const r = await w.control('PUT', `/config/applications/${app}/environment/SOAK_GEN`, JSON.stringify(before[app]));
      expect(r.status).toBe(200);
    }
    const answers = Promise.all([slowPost(ports.go), slowPost(ports.node)]);
    await new Promise((r) => setTimeout(r, 300)); // both requests are in their old processes
    for (const app of ['go', 'node'] as const) {
      const r = await w.control('PUT', `/config/applications/${app}/environment/SOAK_GEN`, JSON.stringify(`${app}-after`));
      expect(r.status).toBe(200);
    }
    const bytes = (pieces + 1) * part.length;
    expect(await answers).toEqual([
      { status: 200, bytes, gen: before.go },
      { status: 200, bytes, gen: before.node },
    ]);
  }, 30_000);
});
