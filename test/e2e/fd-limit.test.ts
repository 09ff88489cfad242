// wardend under a small RLIMIT_NOFILE (set on its running processes, main and router, with prlimit, so a few hundred
// sockets reach it):
// idle clients beyond the connection limit are refused, the control API keeps answering, one warning is logged,
// an app can still be started, and service resumes when the clients go.
import { execFileSync } from 'child_process';
import { connect, type Socket } from 'net';
import { join } from 'path';
import { ROOT, cleanup, freePort, http, routerPids, startWardend, waitUntil, worldDir, type Wardend } from './support/wardend';

const NOFILE = 300;

function havePrlimit(): boolean {
  try {
    execFileSync('prlimit', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const describePrlimit = havePrlimit() ? describe : describe.skip;
if (!havePrlimit()) console.warn('fd-limit e2e skipped: `prlimit` (util-linux) is not installed');

/** Opens a connection and resolves once it is established (or was refused: null). */
function open(port: number): Promise<Socket | null> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => resolve(s));
    s.once('error', () => resolve(null));
  });
}

describePrlimit('wardend at its file descriptor limit', () => {
  let dir: string;
  let w: Wardend;
  let port: number;
  const clients: Socket[] = [];

  beforeAll(async () => {
    dir = worldDir('warden-fdlimit-');
    // One router: the connections are its descriptors (main holds the listener and the control API). It runs as
    // nobody, whose limits root may change only with CAP_SYS_RESOURCE: main's is lowered instead, and the router
    // killed, so that main starts it again with that limit.
    w = await startWardend(['--routers', '1'], dir);
    await waitUntil(() => routerPids(w).length === 1, 'the router is up');
    const [first] = routerPids(w);
    execFileSync('prlimit', ['--pid', String(w.proc.pid), `--nofile=${NOFILE}:${NOFILE}`]);
    process.kill(first!, 'SIGKILL');
    await waitUntil(() => routerPids(w).length === 1 && routerPids(w)[0] !== first, 'the router is started again');
    await w.waitForLog(/router restarted/);
    port = await freePort();
    const res = await w.control('PUT', '/config', {
      listeners: { [`127.0.0.1:${port}`]: { pass: 'routes' } },
      routes: [{ action: { return: 204 } }],
      applications: {},
    });
    expect(res.status).toBe(200);
  });
  afterAll(async () => {
    for (const c of clients) c.destroy();
    await w?.stop();
    cleanup(dir);
  });

  it('refuses idle connections beyond the limit, keeps the control API and app starts working, warns once, and resumes', async () => {
    // More idle connections than wardend has descriptors.
    for (let i = 0; i < NOFILE + 100; i++) {
      const s = await open(port);
      if (s) {
        s.on('error', () => undefined);
        clients.push(s);
      }
    }
    await w.waitForLog(/connection limit reached/);
    // Every connection reached wardend (accepted, or accepted and closed): the control API still answers.
    const cfg = await w.control('GET', '/config/listeners');
    expect(cfg.status).toBe(200);
    expect(Object.keys(cfg.body)).toEqual([`127.0.0.1:${port}`]);
    const status = await w.control('GET', '/status');
    expect(status.status).toBe(200);
    // The reserve also lets an app start (pipes, memfd, doorbell pair) while clients hold every connection.
    const app = { type: 'external', executable: process.execPath, arguments: [join(ROOT, 'test/e2e/apps/flood/flood.js')] };
    expect(await w.control('PUT', '/config/applications/spawned', app)).toMatchObject({ status: 200 });
    // While full, a new client is closed rather than served.
    await expect(http(port, '/')).rejects.toThrow();
    expect(w.log().match(/connection limit reached/g)).toHaveLength(1);
    expect(w.log()).not.toMatch(/EMFILE/);

    for (const c of clients.splice(0)) c.destroy();
    await waitUntil(async () => (await http(port, '/').catch(() => ({ status: 0 }))).status === 204, 'requests are served again');
    await w.waitForLog(/below the limit again/);
    expect(w.log().match(/connection limit reached/g)).toHaveLength(1);
  });
});
