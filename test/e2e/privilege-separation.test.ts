import { readdirSync, readFileSync, readlinkSync, statSync, writeFileSync } from 'fs';
import { request } from 'http';
import { connect, createServer } from 'net';
import { join } from 'path';
import { cleanup, freePort, http, isRoot, putAppWithListener, routerPids, startWardend, waitUntil, worldDir, type Wardend } from './support/wardend';

/**
 * Issue 18: wardend is a privileged main process and unprivileged router processes. Main binds the listeners and
 * starts the apps; the routers accept, parse, route and talk to the app processes, as wardend's --user, without
 * capabilities and with no_new_privs. A router that dies is started again while the listeners stay open in main.
 */

const describeRoot = isRoot ? describe : describe.skip;
if (!isRoot) console.log('privilege-separation: skipped, requires root (the routers drop from root to --user)');

const APP = `require('http').createServer((req, res) => {
  if (req.url === '/slow') return setTimeout(() => res.end('slow ' + process.pid), 300);
  res.end('hello ' + process.pid);
}).listen(8080);
`;

/** The processes whose parent is `pid`, with their command lines. */
function children(pid: number): { pid: number; cmdline: string }[] {
  const out: { pid: number; cmdline: string }[] = [];
  for (const task of readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean)) {
    try {
      out.push({ pid: Number(task), cmdline: readFileSync(`/proc/${task}/cmdline`, 'utf8').replace(/\0+$/, '').replace(/\0/g, ' ') });
    } catch {
      /* exited meanwhile */
    }
  }
  return out;
}

function status(pid: number): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of readFileSync(`/proc/${pid}/status`, 'utf8').split('\n')) {
    const i = line.indexOf(':');
    if (i > 0) out[line.slice(0, i)] = line.slice(i + 1).trim();
  }
  return out;
}

/** One request on a new connection (no keep-alive: a request belongs to whichever router accepted its connection). */
function once(port: number, path = '/'): Promise<number> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
      res.on('error', () => resolve(0));
    });
    req.on('error', () => resolve(0));
    req.setTimeout(10_000, () => req.destroy());
    req.end();
  });
}

/** `clients` loops of requests until `stop()`: counts answers by status (0 = failed) and when each came. */
function load(port: number, clients: number, path = '/') {
  const counts = new Map<number, number>();
  const failures: number[] = [];
  const successes: number[] = [];
  let running = true;
  const loops = Array.from({ length: clients }, async () => {
    while (running) {
      const s = await once(port, path);
      counts.set(s, (counts.get(s) ?? 0) + 1);
      (s === 200 ? successes : failures).push(Date.now());
    }
  });
  return {
    counts,
    failures,
    successes,
    async stop() {
      running = false;
      await Promise.all(loops);
    },
  };
}

describeRoot('privilege separation: main and router processes', () => {
  let dir: string;
  let w: Wardend;
  let port: number;
  beforeAll(async () => {
    dir = worldDir('warden-privsep-');
    writeFileSync(join(dir, 'app.js'), APP, { mode: 0o644 });
    w = await startWardend(['--routers', '2', '--user', 'nobody'], dir);
    expect((await w.control('PUT', '/config', { listeners: {}, applications: {} })).status).toBe(200);
    port = await putAppWithListener(w, 'a', { type: 'node', script: join(dir, 'app.js') });
  }, 60_000);
  afterAll(async () => {
    await w?.stop();
    cleanup(dir);
  });

  it('runs 2 routers as --user with no capabilities, no_new_privs and not dumpable; ps shows "wardend: main" and "wardend: router N"', async () => {
    expect(readFileSync(`/proc/${w.proc.pid}/cmdline`, 'utf8').replace(/\0+$/, '')).toBe('wardend: main');
    const titles = children(w.proc.pid!)
      .map((c) => c.cmdline)
      .filter((c) => c.startsWith('wardend: router'))
      .sort();
    expect(titles).toEqual(['wardend: router 1', 'wardend: router 2']);
    for (const pid of routerPids(w)) {
      const s = status(pid);
      expect(s.Uid!.split(/\s+/)).toEqual(['65534', '65534', '65534', '65534']);
      expect(s.Gid!.split(/\s+/).every((g) => g !== '0')).toBe(true);
      expect(s.CapEff).toBe('0000000000000000');
      expect(s.CapPrm).toBe('0000000000000000');
      expect(s.NoNewPrivs).toBe('1');
      // Not dumpable: the kernel then gives its /proc files to root, so a process of the same uid cannot open its memory.
      expect(statSync(`/proc/${pid}/mem`).uid).toBe(0);
    }
    expect(status(w.proc.pid!).Uid!.split(/\s+/)[0]).toBe('0');
  });

  it('/status sums connections and requests over the routers; the overview lists each router with its own counts', async () => {
    const before = (await w.control('GET', '/status')).body;
    for (let i = 0; i < 20; i++) expect(await once(port)).toBe(200);
    const after = (await w.control('GET', '/status')).body;
    expect(after.requests.total - before.requests.total).toBe(20);
    expect(after.connections.accepted - before.connections.accepted).toBe(20);
    const overview = (await w.control('GET', '/ui/overview.json')).body as { routers: { index: number; pid: number; rssKb: number; requests: number }[] };
    expect(overview.routers.map((r) => r.pid).sort()).toEqual(routerPids(w).sort());
    expect(overview.routers.map((r) => r.index).sort()).toEqual([1, 2]);
    expect(overview.routers.reduce((n, r) => n + r.requests, 0)).toBe(after.requests.total);
    for (const r of overview.routers) expect(r.rssKb).toBeGreaterThan(1000);
  });

  it('kill -9 of one router under load fails only its in-flight requests; serving goes on within 1 s and the app is not restarted', async () => {
    const appPid = Number((await http(port, '/')).body.toString().split(' ')[1]);
    const [victim] = routerPids(w);
    const l = load(port, 8);
    await waitUntil(() => l.successes.length > 50, 'the load runs');
    const killedAt = Date.now();
    process.kill(victim!, 'SIGKILL');
    await waitUntil(() => l.successes.some((t) => t > killedAt + 200), 'requests succeed after the kill', 5000);
    await new Promise((r) => setTimeout(r, 1500));
    await l.stop();
    console.log(
      `router kill -9 under load: ${l.successes.length} requests served, ${l.failures.length} failed, first success ${l.successes.find((t) => t > killedAt)! - killedAt} ms after the kill`,
    );
    // At most one request per client was in flight on the killed router.
    expect(l.failures.length).toBeLessThanOrEqual(8);
    // Serving went on: the first success after the kill came within 1 s.
    const next = l.successes.find((t) => t > killedAt)!;
    expect(next - killedAt).toBeLessThan(1000);
    await waitUntil(() => routerPids(w).length === 2 && !routerPids(w).includes(victim!), 'the router is started again');
    expect(w.log()).toMatch(/router process exited; starting it again/);
    expect(Number((await http(port, '/')).body.toString().split(' ')[1])).toBe(appPid);
  }, 60_000);

  it('a configuration change under load across 2 routers loses no request', async () => {
    const l = load(port, 8);
    await waitUntil(() => l.successes.length > 20, 'the load runs');
    for (let i = 0; i < 20; i++) {
      const res = await w.control('PUT', '/config/routes', [
        { match: { uri: `/never-${i}` }, action: { return: 404 } },
        { action: { pass: 'applications/a' } },
      ]);
      expect(res.status).toBe(200);
      const flip = await w.control('PUT', `/config/listeners/127.0.0.1:${port}`, { pass: i % 2 === 0 ? 'routes' : 'applications/a' });
      expect(flip.status).toBe(200);
    }
    await l.stop();
    expect([...l.counts.keys()]).toEqual([200]);
  }, 60_000);

  it('settings.routers changes the number of router processes live', async () => {
    expect((await w.control('PUT', '/config/settings', { routers: 1 })).status).toBe(200);
    await waitUntil(() => routerPids(w).length === 1, 'one router is left');
    expect(await once(port)).toBe(200);
    expect((await w.control('PUT', '/config/settings', { routers: 3 })).status).toBe(200);
    expect(routerPids(w).length).toBe(3);
    for (let i = 0; i < 10; i++) expect(await once(port)).toBe(200);
    expect((await w.control('DELETE', '/config/settings')).status).toBe(200);
    await waitUntil(() => routerPids(w).length === 2, 'back to --routers 2');
  }, 60_000);

  it('a listener below 1024 works: main binds it as root, the unprivileged routers accept on it', async () => {
    const low = await freeLowPort();
    expect((await w.control('PUT', `/config/listeners/127.0.0.1:${low}`, { pass: 'applications/a' })).status).toBe(200);
    expect(await once(low)).toBe(200);
    expect((await w.control('DELETE', `/config/listeners/127.0.0.1:${low}`)).status).toBe(200);
  });

  it("serves settings.metrics.listen from a router process: the connection is a router's socket, not main's", async () => {
    const mport = await freePort();
    expect((await w.control('PUT', '/config/settings', { metrics: { listen: `127.0.0.1:${mport}` } })).status).toBe(200);
    const sock = connect(mport, '127.0.0.1');
    await new Promise((r) => sock.once('connect', r));
    sock.write('GET /metrics HTTP/1.1\r\nHost: m\r\n\r\n');
    const head = await new Promise<string>((r) => sock.once('data', (d) => r(d.toString())));
    expect(head).toMatch(/^HTTP\/1\.1 200/);
    expect(head).toMatch(/warden_connections/);
    const inode = socketInode(mport, sock.localPort!);
    const owners = [w.proc.pid!, ...routerPids(w)].filter((pid) => holds(pid, inode));
    expect(owners).toHaveLength(1);
    expect(routerPids(w)).toContain(owners[0]);
    sock.destroy();
    expect((await w.control('DELETE', '/config/settings')).status).toBe(200);
  });

  it('a listener address in use fails the apply on every router and changes nothing', async () => {
    const busy = await freePort();
    const holder = createServer().listen(busy, '127.0.0.1');
    await new Promise((r) => holder.once('listening', r));
    try {
      const res = await w.control('PUT', `/config/listeners/127.0.0.1:${busy}`, { pass: 'applications/a' });
      expect(res.status).toBe(500);
      expect(JSON.stringify(res.body)).toMatch(/EADDRINUSE|in use/i);
      expect((await w.control('GET', `/config/listeners/127.0.0.1:${busy}`)).status).toBe(404);
      expect(await once(port)).toBe(200);
    } finally {
      holder.close();
    }
  });
});

/** The inode of the established TCP socket 127.0.0.1:local <-> 127.0.0.1:remote, from /proc/net/tcp (server side). */
function socketInode(local: number, remote: number): string {
  const hex = (p: number) => p.toString(16).toUpperCase().padStart(4, '0');
  for (const line of readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f[1]?.endsWith(`:${hex(local)}`) && f[2]?.endsWith(`:${hex(remote)}`) && f[3] === '01') return f[9]!;
  }
  throw new Error(`no established socket ${local} <- ${remote}`);
}

/** Whether process `pid` has the socket `inode` among its fds. */
function holds(pid: number, inode: string): boolean {
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      if (readlinkSync(`/proc/${pid}/fd/${fd}`) === `socket:[${inode}]`) return true;
    } catch {
      /* closed meanwhile */
    }
  }
  return false;
}

/** A port below 1024 that nothing listens on (from 900 up). */
async function freeLowPort(): Promise<number> {
  for (let p = 900; p < 1024; p++) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = createServer();
      s.once('error', () => resolve(false));
      s.listen(p, '127.0.0.1', () => s.close(() => resolve(true)));
    });
    if (ok) return p;
  }
  throw new Error('no free port below 1024');
}
