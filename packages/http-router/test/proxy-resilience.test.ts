// Upstreams that misbehave: accept and never answer, never read the request, never accept; a route that proxies to
// itself; many upstream connections left idle. The client always gets an answer, and wardend's resources stay bounded.
import { spawn, type ChildProcess } from 'child_process';
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'http';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'net';
import { HttpRouter, type RouterConfig } from '../src';
import { MAX_PROXY_HOPS, proxyHops } from '../src/internal/proxy';
import { IDLE_CONNECTIONS_PER_TARGET } from '../src/internal/upstream';
import { EchoGateway, fetchText, type Reply } from './helpers';

const closers: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

interface Captured {
  level: string;
  obj: unknown;
  msg?: string;
}

async function router(config: (port: number) => Omit<RouterConfig, 'listeners'>): Promise<{ router: HttpRouter; port: number; logs: Captured[] }> {
  const logs: Captured[] = [];
  const push = (level: string) => (obj: unknown, msg?: string) => logs.push({ level, obj, msg });
  const r = new HttpRouter({
    ephemeralPorts: true,
    gateway: new EchoGateway(),
    logger: { info: push('info'), warn: push('warn'), error: push('error'), debug: push('debug') },
  });
  closers.push(() => r.close(100));
  // Bind first (port 0), then install the config that may name the router's own port.
  await (await r.prepare({ listeners: { '127.0.0.1:0': { pass: 'routes' } }, routes: [] })).commit();
  const port = r.addresses()['127.0.0.1:0'].port;
  await (await r.prepare({ ...config(port), listeners: { '127.0.0.1:0': { pass: 'routes' } } })).commit();
  return { router: r, port, logs };
}

/** Listens on a free port; the sockets it accepts are tracked (`open`) and destroyed when the test ends. */
async function listen(server: Server): Promise<{ port: number; open: Set<Socket> }> {
  const open = new Set<Socket>();
  server.on('connection', (s: Socket) => {
    open.add(s);
    s.on('close', () => open.delete(s));
  });
  closers.push(
    () =>
      new Promise<void>((r) => {
        server.close(() => r());
        for (const s of open) s.destroy();
      }),
  );
  const port = await new Promise<number>((r) => server.listen(0, '127.0.0.1', () => r((server.address() as AddressInfo).port)));
  return { port, open };
}

/** Fails the test instead of hanging it when the router never answers (what it did before the timeouts). */
function answered(p: Promise<Reply>, ms: number): Promise<Reply> {
  let timer: NodeJS.Timeout;
  return Promise.race([p, new Promise<Reply>((_, fail) => (timer = setTimeout(() => fail(new Error(`no answer within ${ms} ms`)), ms)))]).finally(() =>
    clearTimeout(timer),
  );
}

function proxyTo(port: number, http: Record<string, unknown>): (own: number) => Omit<RouterConfig, 'listeners'> {
  return () => ({ settings: { http }, routes: [{ action: { proxy: `http://127.0.0.1:${port}` } }] });
}

/**
 * A listening socket whose accept queue is full (backlog 0 and one connection nobody accepts): the kernel drops
 * further SYNs, so a connect to it neither succeeds nor fails. Node always accepts on its listening sockets, hence
 * python3; null when there is none.
 */
async function unacceptingPort(): Promise<number | null> {
  let py: ChildProcess;
  try {
    py = spawn(
      'python3',
      ['-c', 'import socket,sys\ns=socket.socket()\ns.bind(("127.0.0.1",0))\ns.listen(0)\nprint(s.getsockname()[1],flush=True)\nsys.stdin.read()'],
      {
        stdio: ['pipe', 'pipe', 'ignore'],
      },
    );
  } catch {
    return null;
  }
  closers.push(() => {
    py.kill();
  });
  const port = await new Promise<number | null>((resolve) => {
    py.on('error', () => resolve(null));
    py.on('exit', () => resolve(null));
    py.stdout!.once('data', (b: Buffer) => resolve(Number(b.toString().trim())));
  });
  if (port === null) return null;
  const filler = connect(port, '127.0.0.1');
  closers.push(() => {
    filler.destroy();
  });
  await new Promise<void>((r) => filler.once('connect', () => r()));
  return port;
}

describe('proxy timeouts', () => {
  it('answers 504 when the upstream accepts the request and never answers (proxy_read_timeout)', async () => {
    const silent = createServer((s) => s.resume()); // reads everything, writes nothing
    const { port: up } = await listen(silent);
    const { port, logs } = await router(proxyTo(up, { proxy_read_timeout: 0.3 }));
    const t0 = Date.now();
    const r = await answered(fetchText(port, '/'), 10_000);
    expect(r.status).toBe(504);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(250);
    expect(logs.some((l) => l.level === 'warn' && /timed out \(read\)/.test(l.msg ?? ''))).toBe(true);
  });

  it('cuts the client connection when the upstream stops in the middle of its response body', async () => {
    const stalls = createHttpServer((_req: IncomingMessage, res: ServerResponse) => {
      res.writeHead(200, { 'Content-Length': '100' });
      res.write('half');
    });
    const { port: up } = await listen(stalls);
    const { port } = await router(proxyTo(up, { proxy_read_timeout: 0.3 }));
    await expect(answered(fetchText(port, '/'), 10_000)).rejects.toThrow(/aborted|socket hang up|ECONNRESET/);
  });

  it('answers 504 when the upstream stops reading the request body (proxy_send_timeout)', async () => {
    const deaf = createServer((s) => s.pause()); // never reads: our writes stall once the socket buffers are full
    const { port: up } = await listen(deaf);
    const { port, logs } = await router(proxyTo(up, { proxy_send_timeout: 0.3, proxy_read_timeout: 60, max_body_size: 128 << 20 }));
    const body = Buffer.alloc(48 << 20, 120);
    const r = await answered(fetchText(port, '/upload', { method: 'POST', body }), 20_000).catch((err: Error) => err);
    // The 504 may be cut off by the client's own write failing once the router stops reading; either way the
    // router has given up on the upstream with the send timeout.
    if (!(r instanceof Error)) expect(r.status).toBe(504);
    expect(logs.some((l) => l.level === 'warn' && /timed out \(send\)/.test(l.msg ?? ''))).toBe(true);
  });

  it('answers 504 when the connection to the upstream is not established in time (proxy_connect_timeout)', async () => {
    const up = await unacceptingPort();
    if (up === null) {
      console.warn('skipped: needs python3 to hold a listening socket without accepting');
      return;
    }
    const { port, logs } = await router(proxyTo(up, { proxy_connect_timeout: 0.3 }));
    const r = await answered(fetchText(port, '/'), 10_000);
    expect(r.status).toBe(504);
    expect(logs.some((l) => l.level === 'warn' && /timed out \(connect\)/.test(l.msg ?? ''))).toBe(true);
  });

  it('keeps a slow but steady upstream: the read timeout is between reads, not for the whole response', async () => {
    const steady = createHttpServer((_req: IncomingMessage, res: ServerResponse) => {
      res.writeHead(200, { 'Content-Type': 'text/plain' });
      let n = 0;
      const t = setInterval(() => {
        res.write(String(n));
        if (++n === 6) {
          clearInterval(t);
          res.end();
        }
      }, 100);
    });
    const { port: up } = await listen(steady);
    const { port } = await router(proxyTo(up, { proxy_read_timeout: 0.3 }));
    const r = await answered(fetchText(port, '/'), 10_000);
    expect(r).toMatchObject({ status: 200, body: '012345' });
  });

  it('accepts the timeouts in settings.http and rejects bad values with the JSON path', async () => {
    const r = new HttpRouter({ ephemeralPorts: true, gateway: new EchoGateway() });
    closers.push(() => r.close(100));
    await expect(r.prepare({ settings: { http: { proxy_read_timeout: -1 } } })).rejects.toMatchObject({ path: '/settings/http/proxy_read_timeout' });
    await expect(r.prepare({ settings: { http: { proxy_connect_timeout: 'x' } } })).rejects.toMatchObject({ path: '/settings/http/proxy_connect_timeout' });
    await (await r.prepare({ settings: { http: { proxy_connect_timeout: 5, proxy_read_timeout: 0, proxy_send_timeout: 1.5 } } })).rollback();
  });
});

describe('proxy loops', () => {
  it('answers 508 to a route that proxies to itself after a bounded number of hops', async () => {
    const { router: r, port, logs } = await router((own) => ({ routes: [{ action: { proxy: `http://127.0.0.1:${own}` } }] }));
    const res = await answered(fetchText(port, '/loop'), 10_000);
    expect(res.status).toBe(508);
    // The client's connection plus one per hop: bounded, not hundreds.
    expect(r.stats().connections.accepted).toBeLessThanOrEqual(MAX_PROXY_HOPS + 1);
    expect(logs.filter((l) => /proxy loop/.test(l.msg ?? '')).length).toBe(1);
  });

  it('forwards through a chain of Warden proxies, each adding itself to Via', async () => {
    const echo = createHttpServer((req: IncomingMessage, res: ServerResponse) => res.end(String(req.headers.via)));
    const { port: up } = await listen(echo);
    const second = await router(proxyTo(up, {}));
    const first = await router(proxyTo(second.port, {}));
    const r = await fetchText(first.port, '/', { headers: { Via: '1.0 corp-proxy' } });
    expect(r).toMatchObject({ status: 200, body: '1.0 corp-proxy, 1.1 warden, 1.1 warden' });
  });

  it('counts only Warden entries of Via', () => {
    expect(proxyHops(undefined)).toBe(0);
    expect(proxyHops('1.1 warden, 1.0 other, HTTP/1.1 Warden (comment)')).toBe(2);
    expect(proxyHops(['1.1 wardenx', '1.1 warden'])).toBe(1);
  });
});

describe('idle upstream connections', () => {
  it(`keeps at most ${IDLE_CONNECTIONS_PER_TARGET} idle connections per target after a burst`, async () => {
    const burst = 48;
    const held: ServerResponse[] = [];
    const backend = createHttpServer((_req: IncomingMessage, res: ServerResponse) => {
      held.push(res);
      if (held.length === burst) for (const h of held.splice(0)) h.end('ok'); // all connections open at once
    });
    backend.keepAliveTimeout = 60_000; // the upstream would keep every connection: the bound must be ours
    const { port: up, open } = await listen(backend);
    const { port } = await router(proxyTo(up, {}));
    const replies = await Promise.all(Array.from({ length: burst }, () => fetchText(port, '/')));
    expect(replies.every((r) => r.status === 200)).toBe(true);
    expect(open.size).toBeGreaterThan(IDLE_CONNECTIONS_PER_TARGET); // the burst did open more
    await waitFor(() => open.size <= IDLE_CONNECTIONS_PER_TARGET, 5000);
  });

  it('closes idle upstream connections after the idle timeout', async () => {
    const backend = createHttpServer((_req: IncomingMessage, res: ServerResponse) => res.end('ok'));
    backend.keepAliveTimeout = 60_000;
    const { port: up, open } = await listen(backend);
    const { port } = await router(proxyTo(up, {}));
    expect((await fetchText(port, '/')).status).toBe(200);
    expect(open.size).toBe(1);
    const closed = new Promise<void>((r) => [...open][0].once('close', () => r()));
    const t0 = Date.now();
    await closed;
    expect(Date.now() - t0).toBeLessThan(10_000);
  }, 15_000);
});

/** Resolves when `cond` holds, checked on every event-loop turn; rejects after `ms`. */
async function waitFor(cond: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not reached');
    await new Promise((r) => setImmediate(r));
  }
}
