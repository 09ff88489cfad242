import { Agent, request } from 'http';
import { connect, createServer, type AddressInfo } from 'net';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { HttpRouter, RouterConfigError } from '../src';
import { EchoGateway, fetchText, rawRequest, sendRandomRequests, startRouter } from './helpers';

const routers: HttpRouter[] = [];
afterEach(async () => {
  await Promise.all(routers.splice(0).map((r) => r.close(100)));
});
async function start(...args: Parameters<typeof startRouter>) {
  const s = await startRouter(...args);
  routers.push(s.router);
  return s;
}

describe('listeners and pass', () => {
  it('passes a listener straight to an application with the connection facts', async () => {
    const { port } = await start({ pass: 'applications/app' });
    const r = await fetchText(port, '/hello?x=1');
    expect(r.status).toBe(200);
    const body = JSON.parse(r.body);
    expect(body).toMatchObject({ app: 'app', url: '/hello?x=1', info: { remoteAddress: '127.0.0.1', localPort: port, scheme: 'http' } });
    expect(r.headers.server).toBe('Warden/0.1.0');
  });

  it('passes to an application target', async () => {
    const { port } = await start({ pass: 'applications/multi/back' });
    expect(JSON.parse((await fetchText(port, '/')).body)).toMatchObject({ app: 'multi', target: 'back' });
  });

  it('passes through routes, named routes and variables in pass', async () => {
    const routes = {
      main: [
        { match: { uri: '/sub/*' }, action: { pass: 'routes/sub' } },
        { match: { uri: '/dyn/*' }, action: { pass: 'applications/$arg_app' } },
        { action: { return: 204 } },
      ],
      sub: [{ action: { pass: 'applications/other' } }],
    };
    const { port } = await start({ pass: 'routes/main' }, { routes });
    expect(JSON.parse((await fetchText(port, '/sub/a')).body).app).toBe('other');
    expect(JSON.parse((await fetchText(port, '/dyn/a?app=app')).body).app).toBe('app');
    expect((await fetchText(port, '/dyn/a?app=nope')).status).toBe(404);
    expect((await fetchText(port, '/x')).status).toBe(204);
  });

  it('answers 500 to a pass loop instead of spinning', async () => {
    const { port } = await start({ pass: 'routes/a' }, { routes: { a: [{ action: { pass: 'routes/b' } }], b: [{ action: { pass: 'routes/a' } }] } });
    expect((await fetchText(port, '/')).status).toBe(500);
  });

  it('answers 404 when no step matches', async () => {
    const { port } = await start({ pass: 'routes' }, { routes: [{ match: { uri: '/a' }, action: { return: 200 } }] });
    const r = await fetchText(port, '/b');
    expect(r.status).toBe(404);
    expect(r.body).toContain('Error 404');
  });

  it("refuses pass targets that do not exist with Unit's message and path", async () => {
    const router = new HttpRouter({ ephemeralPorts: true, gateway: new EchoGateway() });
    routers.push(router);
    for (const [pass, extra] of [
      ['applications/missing', {}],
      ['applications/multi', {}],
      ['applications/multi/nope', {}],
      ['routes', { routes: { a: [] } }],
      ['routes/a', { routes: [] }],
      ['upstreams/u', {}],
      ['elsewhere', {}],
    ] as const) {
      await expect(router.prepare({ applications: { multi: { targets: { t: {} } } }, ...extra, listeners: { '127.0.0.1:0': { pass } } })).rejects.toMatchObject(
        { message: `Request "pass" points to invalid location "${pass}".`, path: '/listeners/127.0.0.1:0/pass' },
      );
    }
    await expect(router.prepare({ listeners: { 'localhost:80': { pass: 'routes' } } })).rejects.toBeInstanceOf(RouterConfigError);
    await expect(router.prepare({ listeners: { '*:99999': { pass: 'routes' } } })).rejects.toThrow(/listener address/);
  });

  it('binds IPv6 listeners in brackets', async () => {
    const router = new HttpRouter({ ephemeralPorts: true, gateway: new EchoGateway() });
    routers.push(router);
    try {
      const p = await router.prepare({ applications: { app: {} }, listeners: { '[::1]:0': { pass: 'applications/app' } } });
      await p.commit();
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EADDRNOTAVAIL') return; // no IPv6 loopback on this host
      throw e;
    }
    const port = router.addresses()['[::1]:0'].port;
    const r = await fetchText(port, '/', { host: '::1' });
    expect(JSON.parse(r.body).info.remoteAddress).toBe('::1');
  });

  it('reports EADDRINUSE from prepare and binds nothing', async () => {
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const port = (blocker.address() as AddressInfo).port;
    const router = new HttpRouter({ ephemeralPorts: true, gateway: new EchoGateway() });
    routers.push(router);
    await expect(router.prepare({ applications: { app: {} }, listeners: { [`127.0.0.1:${port}`]: { pass: 'applications/app' } } })).rejects.toMatchObject({
      code: 'EADDRINUSE',
    });
    expect(router.addresses()).toEqual({});
    blocker.close();
  });
});

describe('return', () => {
  it.each([
    [200, ''],
    [204, ''],
    [403, 'Error 403'],
    [599, 'Error 599'],
  ])('returns %d', async (status, body) => {
    const { port } = await start({ pass: 'routes' }, { routes: [{ action: { return: status } }] });
    const r = await fetchText(port, '/');
    expect(r.status).toBe(status);
    expect(r.body).toContain(body);
  });

  it('sends location with variables', async () => {
    const { port } = await start({ pass: 'routes' }, { routes: [{ action: { return: 301, location: 'https://$host${uri}?from=$arg_f&m=$method$dollar' } }] });
    const r = await fetchText(port, '/a%20b?f=x', { headers: { host: 'Example.COM:8080' } });
    expect(r.status).toBe(301);
    expect(r.headers.location).toBe('https://example.com/a%20b?from=x&m=GET$'); // encoded as Unit encodes it
  });

  it('does not announce a body on 204', async () => {
    const { port } = await start({ pass: 'routes' }, { routes: [{ action: { return: 204 } }] });
    const raw = await rawRequest(port, 'GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    expect(raw).toMatch(/^HTTP\/1\.1 204/);
    expect(raw.toLowerCase()).not.toContain('content-length');
  });

  it('sends status codes below 100 as Unit does', async () => {
    const { port } = await start({ pass: 'routes' }, { routes: [{ action: { return: 42 } }] });
    const raw = await rawRequest(port, 'GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    expect(raw.startsWith('HTTP/1.1 042 ')).toBe(true);
  });
});

describe('rewrite and response_headers', () => {
  it('rewrites the URI before passing to the app', async () => {
    const { port } = await start(
      { pass: 'routes' },
      { routes: [{ match: { uri: '/old/*' }, action: { rewrite: '/new$uri?q=$arg_q', pass: 'applications/app' } }] },
    );
    const body = JSON.parse((await fetchText(port, '/old/x?q=1')).body);
    expect(body.url).toBe('/new/old/x?q=1');
  });

  it("keeps the request's own query and drops a query in the rewritten value, as Unit does (test_rewrite_arguments)", async () => {
    const { port } = await start(
      { pass: 'routes' },
      {
        routes: [
          { match: { uri: '/foo', arguments: { arg: 'val' } }, action: { rewrite: '/new?some', pass: 'routes' } },
          { match: { uri: '/new', arguments: { arg: 'val' } }, action: { return: 200 } },
          { match: { uri: '/app' }, action: { rewrite: '/new?x=1', pass: 'applications/app' } },
        ],
      },
    );
    expect((await fetchText(port, '/foo?arg=val')).status).toBe(200);
    expect(JSON.parse((await fetchText(port, '/app')).body).url).toBe('/new');
    expect(JSON.parse((await fetchText(port, '/app?b=2')).body).url).toBe('/new?b=2');
  });

  it('rewritten URI is matched by the next route', async () => {
    const routes = {
      a: [{ action: { rewrite: '/b', pass: 'routes/b' } }],
      b: [{ match: { uri: '/b' }, action: { return: 209 } }],
    };
    const { port } = await start({ pass: 'routes/a' }, { routes });
    expect((await fetchText(port, '/zzz')).status).toBe(209);
  });

  it('sets and removes response headers after the app wrote its own', async () => {
    const { port } = await start(
      { pass: 'routes' },
      {
        routes: [
          { action: { pass: 'applications/app', response_headers: { 'X-App': null, 'X-Status': '$status', 'Cache-Control': 'no-store', 'X-Uri': '$uri' } } },
        ],
      },
    );
    const r = await fetchText(port, '/p');
    expect(r.headers['x-app']).toBeUndefined();
    expect(r.headers['x-status']).toBe('200');
    expect(r.headers['cache-control']).toBe('no-store');
    expect(r.headers['x-uri']).toBe('/p');
  });

  it('adds response headers to return actions, to statuses 200-399 only, as Unit (nxt_http_set_headers)', async () => {
    const routes = [
      { match: { uri: '/no' }, action: { return: 403, response_headers: { 'X-Why': 'blocked $remote_addr' } } },
      { action: { return: 302, location: '/x', response_headers: { 'X-Why': 'moved $remote_addr' } } },
    ];
    const { port } = await start({ pass: 'routes' }, { routes });
    expect((await fetchText(port, '/no')).headers['x-why']).toBeUndefined();
    expect((await fetchText(port, '/')).headers['x-why']).toBe('moved 127.0.0.1');
  });

  it("only the last action's response headers hold: not a step that passes to another route, not a share that fell back (test_response_headers.py)", async () => {
    const routes = {
      first: [{ action: { pass: 'routes/second', response_headers: { 'X-Foo': 'first' } } }],
      second: [
        { match: { uri: '/app' }, action: { pass: 'applications/app', response_headers: { 'X-Foo': 'app' } } },
        {
          match: { uri: '/fb' },
          action: {
            share: '/nonexistent$uri',
            response_headers: { 'X-Foo': 'share', 'X-Share': 's' },
            fallback: { return: 200, response_headers: { 'X-Foo': 'fallback' } },
          },
        },
        { action: { return: 200 } },
      ],
    };
    const { port } = await start({ pass: 'routes/first' }, { routes });
    expect((await fetchText(port, '/')).headers['x-foo']).toBeUndefined();
    expect((await fetchText(port, '/app')).headers['x-foo']).toBe('app');
    const fb = await fetchText(port, '/fb');
    expect([fb.status, fb.headers['x-foo'], fb.headers['x-share']]).toEqual([200, 'fallback', undefined]);
  });
});

describe('forwarded', () => {
  const listener = (extra: object) => ({
    pass: 'routes',
    forwarded: { client_ip: 'X-Forwarded-For', protocol: 'X-Forwarded-Proto', source: ['127.0.0.0/8'], ...extra },
  });
  const routes = [
    { match: { scheme: 'https' }, action: { return: 200, response_headers: { 'X-Client': '$remote_addr', 'X-Scheme': 'https' } } },
    { action: { return: 200, response_headers: { 'X-Client': '$remote_addr', 'X-Scheme': 'http' } } },
  ];

  it('takes the client address and protocol from a trusted source (rightmost address)', async () => {
    const { port } = await start(listener({}), { routes });
    const r = await fetchText(port, '/', { headers: { 'X-Forwarded-For': '1.1.1.1, 10.0.0.1, 127.0.0.5', 'X-Forwarded-Proto': 'https' } });
    expect(r.headers['x-client']).toBe('127.0.0.5');
    expect(r.headers['x-scheme']).toBe('https');
  });

  it('walks back over trusted addresses when recursive', async () => {
    const { port } = await start(listener({ recursive: true, source: ['127.0.0.0/8', '10.0.0.0/8'] }), { routes });
    const r = await fetchText(port, '/', { headers: { 'X-Forwarded-For': '1.1.1.1, 10.0.0.1, 127.0.0.5' } });
    expect(r.headers['x-client']).toBe('1.1.1.1');
    expect(r.headers['x-scheme']).toBe('http');
  });

  it('ignores the headers from an untrusted source', async () => {
    const { port } = await start(listener({ source: '10.0.0.0/8' }), { routes });
    const r = await fetchText(port, '/', { headers: { 'X-Forwarded-For': '1.1.1.1', 'X-Forwarded-Proto': 'https' } });
    expect(r.headers['x-client']).toBe('127.0.0.1');
    expect(r.headers['x-scheme']).toBe('http');
  });

  it('requires source', async () => {
    const router = new HttpRouter({ ephemeralPorts: true, gateway: new EchoGateway() });
    await expect(router.prepare({ routes: [], listeners: { '127.0.0.1:0': { pass: 'routes', forwarded: { client_ip: 'X-F' } } } })).rejects.toMatchObject({
      // The schema reports a missing key at the object that lacks it (as for every required key).
      path: '/listeners/127.0.0.1:0/forwarded',
      message: 'Required parameter "source" is missing.',
    });
  });
});

describe('reconfiguration', () => {
  it('keeps connections on staying listeners, switches routes atomically and closes removed listeners', async () => {
    const gw = new EchoGateway();
    const router = new HttpRouter({ ephemeralPorts: true, gateway: gw });
    routers.push(router);
    const cfg = (status: number, extra: object = {}) => ({
      routes: [{ action: { return: status } }],
      listeners: { '127.0.0.1:0': { pass: 'routes' }, ...extra },
    });
    await (await router.prepare(cfg(201))).commit();
    const port = router.addresses()['127.0.0.1:0'].port;
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const sockets = new Set<unknown>();
    const get = () =>
      new Promise<number>((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port, path: '/', agent }, (res) => {
          sockets.add(res.socket);
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        });
        req.on('error', reject);
        req.end();
      });
    expect(await get()).toBe(201);

    // A second listener comes and goes; the first keeps its connection and sees the new routes.
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const free = (blocker.address() as AddressInfo).port;
    await new Promise<void>((r) => blocker.close(() => r()));
    await (await router.prepare(cfg(202, { [`127.0.0.1:${free}`]: { pass: 'routes' } }))).commit();
    expect(await get()).toBe(202);
    expect((await fetchText(free, '/')).status).toBe(202);
    await (await router.prepare(cfg(203))).commit();
    expect(await get()).toBe(203);
    expect(sockets.size).toBe(1);
    await expect(fetchText(free, '/')).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    expect(router.stats().connections.accepted).toBe(2);
    agent.destroy();
  });

  it('lets an in-flight request on a removed listener finish', async () => {
    let release: () => void = () => undefined;
    const gateway = {
      handle(_a: string, _t: string | undefined, _req: unknown, res: import('http').ServerResponse) {
        release = () => res.end('late');
      },
    };
    const router = new HttpRouter({ ephemeralPorts: true, gateway });
    routers.push(router);
    await (await router.prepare({ applications: { app: {} }, listeners: { '127.0.0.1:0': { pass: 'applications/app' } } })).commit();
    const port = router.addresses()['127.0.0.1:0'].port;
    const agent = new Agent({ keepAlive: true });
    const pending = fetchText(port, '/', { agent });
    while (router.stats().requests.total === 0) await new Promise((r) => setImmediate(r));
    await (await router.prepare({ applications: { app: {} }, listeners: {} })).commit();
    release();
    const r = await pending;
    expect(r.body).toBe('late');
    // The kept-alive connection is closed once its response is done.
    while (router.stats().connections.closed < 1) await new Promise((res) => setImmediate(res));
    agent.destroy();
  });

  it('rollback closes only what prepare bound', async () => {
    const { router, port } = await start({ pass: 'applications/app' });
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const free = (blocker.address() as AddressInfo).port;
    await new Promise<void>((r) => blocker.close(() => r()));
    const p = await router.prepare({
      applications: { app: {} },
      listeners: { '127.0.0.1:0': { pass: 'applications/app' }, [`127.0.0.1:${free}`]: { pass: 'applications/app' } },
    });
    // Not committed yet: the new listener is bound but does not serve.
    expect((await fetchText(free, '/')).status).toBe(503);
    await p.rollback();
    await expect(fetchText(free, '/')).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    expect((await fetchText(port, '/')).status).toBe(200);
  });
});

describe('malformed and oversized requests', () => {
  it.each([
    ['garbage request line', 'HELLO\r\n\r\n', /^HTTP\/1\.1 400/],
    ['dot segments above root', 'GET /../../etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n', /^HTTP\/1\.1 400/],
    ['bad percent escape', 'GET /a%zz HTTP/1.1\r\nHost: x\r\n\r\n', /^HTTP\/1\.1 400/],
    ['encoded NUL', 'GET /a%00 HTTP/1.1\r\nHost: x\r\n\r\n', /^HTTP\/1\.1 400/],
    ['bad header', 'GET / HTTP/1.1\r\nHost: x\r\nBad Header: y\r\n\r\n', /^HTTP\/1\.1 400/],
    ['conflicting lengths', 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab', /^HTTP\/1\.1 400/],
    ['huge header', `GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(40000)}\r\n\r\n`, /^HTTP\/1\.1 431/],
  ])('%s gets the right 4xx and the connection closes (routes listener)', async (_n, raw, want) => {
    const { port } = await start({ pass: 'routes' }, { routes: [{ action: { pass: 'applications/app' } }] });
    expect(await rawRequest(port, raw)).toMatch(want);
  });

  it('refuses bad targets on the fast path too', async () => {
    const { port, gateway } = await start({ pass: 'applications/app' });
    expect(await rawRequest(port, 'GET /a/%2e%2e/%2e%2e/x HTTP/1.1\r\nHost: x\r\n\r\n')).toMatch(/^HTTP\/1\.1 400/);
    expect((gateway as EchoGateway).calls).toBe(0);
  });

  it('answers 413 to a body over max_body_size (Content-Length and chunked)', async () => {
    const { port } = await start({ pass: 'applications/app' }, { settings: { http: { max_body_size: 10 } } });
    const r = await rawRequest(port, 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\nhello world');
    expect(r).toMatch(/^HTTP\/1\.1 413/);
    const c = await rawRequest(port, 'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n8\r\n12345678\r\n8\r\n12345678\r\n0\r\n\r\n');
    expect(c).toMatch(/^HTTP\/1\.1 413/);
    const ok = await fetchText(port, '/', { method: 'POST', body: '0123456789' });
    expect(JSON.parse(ok.body).body).toBe('0123456789');
  });

  it('discards header fields with unsafe names unless told not to', async () => {
    const { port } = await start({ pass: 'applications/app' });
    const r = await rawRequest(port, 'GET / HTTP/1.1\r\nHost: x\r\nX_Evil: 1\r\nX-Good: 2\r\nConnection: close\r\n\r\n');
    expect(r).not.toContain('x_evil');
    expect(r).toContain('"x-good":"2"');
    const { port: p2 } = await start({ pass: 'applications/app' }, { settings: { http: { discard_unsafe_fields: false } } });
    expect(await rawRequest(p2, 'GET / HTTP/1.1\r\nHost: x\r\nX_Evil: 1\r\nConnection: close\r\n\r\n')).toContain('"x_evil":"1"');
  });

  it("a discarded field does not break what reads the request's fields afterwards (header match, access log)", async () => {
    const log = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'router-unsafe-')), 'a.log');
    const routes = [{ match: { headers: { 'X-Good': '2' } }, action: { return: 204 } }, { action: { return: 200 } }];
    const { port, router } = await start({ pass: 'routes' }, { routes, access_log: { path: log, format: '$status [$header_x_good]' } });
    const r = await rawRequest(port, 'GET / HTTP/1.1\r\nHost: x\r\nX_Evil: 1\r\nX-Good: 2\r\nConnection: close\r\n\r\n');
    expect(r).toMatch(/^HTTP\/1\.1 204/);
    await router.close(100);
    expect(fs.readFileSync(log, 'utf8')).toBe('204 [2]\n');
  });

  it('drops a client that stops sending its headers (header_read_timeout)', async () => {
    const { port } = await start({ pass: 'applications/app' }, { settings: { http: { header_read_timeout: 0.3 } } });
    const r = await rawRequest(port, 'GET / HTTP/1.1\r\nHost: x\r\n');
    expect(r === '' || /^HTTP\/1\.1 408/.test(r)).toBe(true);
  });

  it("on node:http (a listener with an access log) too: a silent new connection waits idle_timeout, then Unit's 408; header_read_timeout counts from the first bytes", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'router-idle-'));
    try {
      const { port } = await start(
        { pass: 'applications/app' },
        { settings: { http: { header_read_timeout: 0.6, idle_timeout: 1 } }, access_log: path.join(dir, 'access.log') },
      );
      const silent = connect(port, '127.0.0.1');
      let text = '';
      silent.on('data', (d: Buffer) => (text += d.toString('latin1')));
      const closed = new Promise((r) => silent.on('close', r));
      await new Promise((r) => setTimeout(r, 800)); // past header_read_timeout: still open, nothing sent
      expect([text, silent.destroyed]).toEqual(['', false]);
      await closed; // after idle_timeout
      expect(text).toMatch(/^HTTP\/1\.1 408 Request Timeout\r\n[^]*\r\nContent-Length: 0\r\n[^]*\r\n\r\n$/);
      // A head that begins after a wait longer than header_read_timeout gets its whole header_read_timeout.
      const late = connect(port, '127.0.0.1');
      late.on('data', () => undefined);
      const lateClosed = new Promise((r) => late.on('close', r));
      await new Promise((r) => setTimeout(r, 800));
      const t1 = Date.now();
      late.write('GET / HTTP/1.1\r\nHost: x\r\n');
      await lateClosed;
      expect(Date.now() - t1).toBeGreaterThanOrEqual(550); // a timer can be late, never early
      // And a request that arrives in time is served as before.
      expect((await fetchText(port, '/')).status).toBe(200);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("answers a client that stops sending its body Unit's 408 and closes (body_read_timeout)", async () => {
    const { port } = await start({ pass: 'applications/app' }, { settings: { http: { body_read_timeout: 0.3 } } });
    const r = await rawRequest(port, 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc');
    expect(r).toMatch(/^HTTP\/1\.1 408 Request Timeout\r\n[^]*\r\nConnection: close\r\n\r\n<!DOCTYPE html>/);
  });

  it('hides the version when server_version is false', async () => {
    const { port } = await start({ pass: 'applications/app' }, { settings: { http: { server_version: false } } });
    expect((await fetchText(port, '/')).headers.server).toBe('Warden');
  });

  it('rejects unknown settings', async () => {
    const router = new HttpRouter({ ephemeralPorts: true, gateway: new EchoGateway() });
    await expect(router.prepare({ settings: { http: { nope: 1 } } })).rejects.toMatchObject({ path: '/settings/http/nope' });
  });
});

describe('stats and access_log', () => {
  it('counts connections and requests', async () => {
    const { router, port } = await start({ pass: 'applications/app' });
    await fetchText(port, '/');
    await fetchText(port, '/');
    while (router.stats().connections.closed < 2) await new Promise((r) => setImmediate(r));
    expect(router.stats()).toEqual({ connections: { accepted: 2, active: 0, idle: 0, closed: 2 }, requests: { total: 2 } });
  });

  it('writes access log lines with the format and if condition', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'router-log-'));
    const file = path.join(dir, 'access.log');
    const { router, port } = await start(
      { pass: 'routes' },
      {
        routes: [{ match: { uri: '/skip' }, action: { return: 204 } }, { action: { return: 200 } }],
        access_log: { path: file, format: '$remote_addr "$request_line" $status $body_bytes_sent $uri $header_user_agent', if: '!$arg_quiet' },
      },
    );
    await fetchText(port, '/a?x=1', { headers: { 'User-Agent': 'probe/1' } });
    await fetchText(port, '/quiet?quiet=1');
    await fetchText(port, '/err', { method: 'POST' });
    await router.close(100);
    routers.splice(routers.indexOf(router), 1);
    const lines = fs
      .readFileSync(file, 'utf8')
      .split('\n')
      .filter((l) => l !== '');
    expect(lines).toEqual(['127.0.0.1 "GET /a?x=1 HTTP/1.1" 200 0 /a probe/1', '127.0.0.1 "POST /err HTTP/1.1" 200 0 /err -']); // no User-Agent: "-" as in Unit
    fs.rmSync(dir, { recursive: true });
  });

  it('reopens the access log at its path (SIGUSR1 after logrotate): later lines go to the new file', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'router-log-'));
    const file = path.join(dir, 'access.log');
    const { router, port } = await start({ pass: 'routes' }, { routes: [{ action: { return: 200 } }], access_log: { path: file, format: '$uri' } });
    await fetchText(port, '/before');
    while (!fs.readFileSync(file, 'utf8').includes('/before')) await new Promise((r) => setTimeout(r, 5));
    fs.renameSync(file, `${file}.1`);
    await router.reopenAccessLog();
    await fetchText(port, '/after');
    await router.close(100);
    routers.splice(routers.indexOf(router), 1);
    expect(fs.readFileSync(`${file}.1`, 'utf8')).toBe('/before\n');
    expect(fs.readFileSync(file, 'utf8')).toBe('/after\n');
    fs.rmSync(dir, { recursive: true });
  });

  it('uses the combined format for a string access_log', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'router-log-'));
    const file = path.join(dir, 'access.log');
    const { router, port } = await start({ pass: 'routes' }, { routes: [{ action: { return: 404 } }], access_log: file });
    await fetchText(port, '/nope', { headers: { Referer: 'http://r/', 'User-Agent': 'ua' } });
    await router.close(100);
    routers.splice(routers.indexOf(router), 1);
    const line = fs.readFileSync(file, 'utf8').trim();
    expect(line).toMatch(/^127\.0\.0\.1 - - \[\d\d\/\w{3}\/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}\] "GET \/nope HTTP\/1\.1" 404 54 "http:\/\/r\/" "ua"$/);
    fs.rmSync(dir, { recursive: true });
  });
});

describe('header occurrences', () => {
  it('matches a repeated header only when every occurrence matches', async () => {
    const { port } = await start(
      { pass: 'routes' },
      { routes: [{ match: { headers: { 'X-Role': 'admin*' } }, action: { return: 200 } }, { action: { return: 403 } }] },
    );
    expect(await rawRequest(port, 'GET / HTTP/1.1\r\nHost: x\r\nX-Role: admin\r\nX-Role: administrator\r\nConnection: close\r\n\r\n')).toMatch(
      /^HTTP\/1\.1 200/,
    );
    expect(await rawRequest(port, 'GET / HTTP/1.1\r\nHost: x\r\nX-Role: admin\r\nX-Role: guest\r\nConnection: close\r\n\r\n')).toMatch(/^HTTP\/1\.1 403/);
  });
});

describe('hostile input never crashes the router', () => {
  it('encodes control characters from variables in headers', async () => {
    const { port } = await start(
      { pass: 'routes' },
      {
        routes: [
          { match: { uri: '/r/*' }, action: { return: 302, location: '$uri' } },
          { action: { pass: 'applications/app', response_headers: { 'X-Uri': '$uri' } } },
        ],
      },
    );
    const a = await fetchText(port, '/a%0D%0ASet-Cookie:%20x=1');
    expect(a.status).toBe(200);
    expect(a.headers['set-cookie']).toBeUndefined();
    expect(a.headers['x-uri']).toBe('/a%0D%0ASet-Cookie: x=1');
    const r = await fetchText(port, '/r/%0Aevil');
    expect(r.status).toBe(302);
    expect(r.headers.location).toBe('/r/%0Aevil');
  });

  it('answers 500 when a rewrite produces a target the proxy cannot send, also from a share fallback', async () => {
    const { port } = await start(
      { pass: 'routes' },
      {
        routes: [
          { match: { uri: '/p/*' }, action: { rewrite: '/x$arg_v', proxy: 'http://127.0.0.1:9' } },
          { action: { share: '/nonexistent-dir$uri', fallback: { rewrite: '/y$arg_v', proxy: 'http://127.0.0.1:9' } } },
        ],
      },
    );
    expect((await fetchText(port, '/p/a?v=%20%0A')).status).toBe(500);
    expect((await fetchText(port, '/f?v=%20%0A')).status).toBe(500);
    expect((await fetchText(port, '/p/a?v=ok')).status).toBe(502);
  });

  it('survives random bytes and still serves', async () => {
    const { port } = await start(
      { pass: 'routes' },
      { routes: [{ match: { uri: '/ok' }, action: { return: 204 } }, { action: { pass: 'applications/app' } }] },
    );
    const pieces = [
      'GET ',
      'POST ',
      '/',
      '%',
      '%2e',
      '..',
      '?',
      '&',
      '=',
      ' HTTP/1.1\r\n',
      'Host: x\r\n',
      'Content-Length: 3\r\n',
      'Transfer-Encoding: chunked\r\n',
      '\r\n',
      '\0',
      '\xff',
      'Cookie: a=1;;=;\r\n',
      'X_Y: z\r\n',
    ];
    await sendRandomRequests(port, pieces, 42, 60, 12);
    expect((await fetchText(port, '/ok')).status).toBe(204);
  });
});

describe('access_log that cannot be opened', () => {
  it('fails prepare and binds nothing', async () => {
    const router = new HttpRouter({ ephemeralPorts: true, gateway: new EchoGateway() });
    routers.push(router);
    await expect(
      router.prepare({ applications: { app: {} }, listeners: { '127.0.0.1:0': { pass: 'applications/app' } }, access_log: '/nonexistent-dir/x/access.log' }),
    ).rejects.toMatchObject({ code: 'ENOENT', message: expect.stringContaining('access log "/nonexistent-dir/x/access.log"') });
    expect(router.addresses()).toEqual({});
  });
});

describe('send and idle timeouts', () => {
  it('drops a client that stops reading the response (send_timeout)', async () => {
    const big = Buffer.alloc(8 * 1024 * 1024, 97);
    const gateway = {
      handle(_a: string, _t: string | undefined, _req: unknown, res: import('http').ServerResponse) {
        res.write(big);
        res.end(big);
      },
    };
    const { router, port } = await start({ pass: 'applications/app' }, { settings: { http: { send_timeout: 0.3 } } }, gateway);
    const { connect } = await import('net');
    const sock = connect(port, '127.0.0.1');
    sock.pause(); // never read
    sock.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    await new Promise<void>((resolve) => {
      const tick = () => (router.stats().connections.closed >= 1 ? resolve() : setTimeout(tick, 50));
      tick();
    });
    expect(router.stats().connections.active).toBe(0);
    sock.destroy();
  });

  it('does not time out a slow app while the client waits', async () => {
    const gateway = {
      handle(_a: string, _t: string | undefined, _req: unknown, res: import('http').ServerResponse) {
        setTimeout(() => res.end('slow but fine'), 700);
      },
    };
    const { port } = await start({ pass: 'applications/app' }, { settings: { http: { send_timeout: 0.2 } } }, gateway);
    expect((await fetchText(port, '/')).body).toBe('slow but fine');
  });

  it('closes idle keep-alive connections after idle_timeout', async () => {
    const { router, port } = await start({ pass: 'applications/app' }, { settings: { http: { idle_timeout: 0.2 } } });
    const agent = new Agent({ keepAlive: true });
    await fetchText(port, '/', { agent });
    expect(router.stats().connections.idle).toBe(1);
    await new Promise<void>((resolve) => {
      const tick = () => (router.stats().connections.closed >= 1 ? resolve() : setTimeout(tick, 50));
      tick();
    });
    expect(router.stats().connections.idle).toBe(0);
    agent.destroy();
  });
});

describe('log_route', () => {
  it("logs each step tried, the one selected and each URI rewrite in Unit's words, one line each", async () => {
    const lines: Array<Record<string, unknown>> = [];
    const logger = { info: (o: unknown, msg?: string) => lines.push({ ...(o as object), msg }), warn() {}, error() {}, debug() {} };
    const router = new HttpRouter({ ephemeralPorts: true, gateway: new EchoGateway(), logger });
    routers.push(router);
    await (
      await router.prepare({
        settings: { http: { log_route: true } },
        routes: {
          main: [
            { match: { uri: '/a' }, action: { return: 204 } },
            { match: { uri: '/r' }, action: { rewrite: '/new$uri', pass: 'routes/next' } },
          ],
          next: [{ action: { return: 200 } }],
        },
        listeners: { '127.0.0.1:0': { pass: 'routes/main' } },
      })
    ).commit();
    const port = router.addresses()['127.0.0.1:0'].port;
    // Unit writes the request line, a step selected and a rewrite at notice, a step discarded at info.
    const seen = () => lines.splice(0).map((l) => `${String(l.unitLevel ?? 'info')} ${String(l.msg)}`);
    await fetchText(port, '/a');
    expect(seen()).toEqual(['notice http request line "GET /a HTTP/1.1"', 'notice "routes/main/0" selected']);
    await fetchText(port, '/b');
    expect(seen()).toEqual(['notice http request line "GET /b HTTP/1.1"', 'info "routes/main/0" discarded', 'info "routes/main/1" discarded']);
    await fetchText(port, '/r');
    expect(seen()).toEqual([
      'notice http request line "GET /r HTTP/1.1"',
      'info "routes/main/0" discarded',
      'notice "routes/main/1" selected',
      'notice URI rewritten to "/new/r"',
      'notice "routes/next/0" selected',
    ]);
  });

  it('takes a rewrite to any value, as Unit (test_rewrite: "" and a name without a slash); one that does not parse is 500', async () => {
    const router = new HttpRouter({ ephemeralPorts: true, gateway: new EchoGateway() });
    routers.push(router);
    await (
      await router.prepare({
        routes: [
          { match: { uri: '/' }, action: { rewrite: '', pass: 'routes' } },
          { match: { uri: '' }, action: { return: 200 } },
          { match: { uri: '/n' }, action: { rewrite: 'new', pass: 'routes' } },
          { match: { uri: 'new' }, action: { return: 201 } },
          { match: { uri: '/x' }, action: { rewrite: '/$arg_x', pass: 'routes' } },
          { action: { return: 299 } },
        ],
        listeners: { '127.0.0.1:0': { pass: 'routes' } },
      })
    ).commit();
    const port = router.addresses()['127.0.0.1:0'].port;
    expect((await fetchText(port, '/')).status).toBe(200);
    expect((await fetchText(port, '/n')).status).toBe(201);
    expect((await fetchText(port, '/x?x=%25')).status).toBe(500);
  });

  it('names the steps of the array form "routes/N" and logs a share fallback', async () => {
    const lines: string[] = [];
    const logger = { info: (_o: unknown, msg?: string) => lines.push(msg ?? ''), warn() {}, error() {}, debug() {} };
    const router = new HttpRouter({ ephemeralPorts: true, gateway: new EchoGateway(), logger });
    routers.push(router);
    await (
      await router.prepare({
        settings: { http: { log_route: true } },
        routes: [{ action: { share: '/nonexistent-dir-for-log-route$uri', fallback: { return: 204 } } }],
        listeners: { '127.0.0.1:0': { pass: 'routes' } },
      })
    ).commit();
    expect((await fetchText(router.addresses()['127.0.0.1:0'].port, '/x')).status).toBe(204);
    expect(lines).toEqual(['http request line "GET /x HTTP/1.1"', '"routes/0" selected', '"fallback" taken']);
  });
});

describe('Server header and repeated response fields', () => {
  const gateway = {
    handle(_a: string, _t: string | undefined, req: import('http').IncomingMessage, res: import('http').ServerResponse) {
      const extra = req.url === '/own' ? ['Server', 'MyApp'] : [];
      res.writeHead(200, ['Set-Cookie', 'a=1', 'Set-Cookie', 'b=2', ...extra]);
      res.end('ok');
    },
  };
  it('keeps every Set-Cookie the app sends and adds Server unless the app set one', async () => {
    const { port } = await start({ pass: 'applications/app' }, {}, gateway);
    const r = await fetchText(port, '/');
    expect(r.headers['set-cookie']).toEqual(['a=1', 'b=2']);
    expect(r.headers.server).toBe('Warden/0.1.0');
    expect((await fetchText(port, '/own')).headers.server).toBe('MyApp');
  });

  it('keeps them through routes with response_headers too', async () => {
    const { port } = await start(
      { pass: 'routes' },
      { routes: [{ action: { pass: 'applications/app', response_headers: { 'X-Extra': '1' } } }], settings: { http: { server_version: false } } },
      gateway,
    );
    const r = await fetchText(port, '/');
    expect(r.headers['set-cookie']).toEqual(['a=1', 'b=2']);
    expect(r.headers['x-extra']).toBe('1');
    expect(r.headers.server).toBe('Warden');
  });
});

describe('close', () => {
  it('waits for in-flight requests up to the grace period, then drops them, also on draining listeners', async () => {
    const gateway = { handle() {} }; // never answers
    const router = new HttpRouter({ ephemeralPorts: true, gateway });
    await (await router.prepare({ applications: { app: {} }, listeners: { '127.0.0.1:0': { pass: 'applications/app' } } })).commit();
    const port = router.addresses()['127.0.0.1:0'].port;
    const pending = fetchText(port, '/');
    pending.catch(() => undefined);
    while (router.stats().requests.total === 0) await new Promise((r) => setImmediate(r));
    await (await router.prepare({ applications: { app: {} }, listeners: {} })).commit(); // now draining
    const t0 = Date.now();
    await router.close(200);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(150);
    await expect(pending).rejects.toHaveProperty('code', 'ECONNRESET');
    expect(router.stats().connections.closed).toBe(1);
  });
});
