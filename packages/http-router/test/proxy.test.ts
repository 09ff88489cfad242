import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'http';
import { createServer as createNetServer, type AddressInfo } from 'net';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { HttpRouter } from '../src';
import { fetchText, rawRequest, startRouter } from './helpers';

const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  await Promise.all(closers.splice(0).map((c) => c()));
});

/** A backend that echoes what it received; `name` tells which one answered. */
async function backend(name: string, listenOn: number | string = 0): Promise<{ server: Server; port: number; seen: IncomingMessage[] }> {
  const seen: IncomingMessage[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    seen.push(req);
    if (req.url === '/stream') {
      res.writeHead(200, { 'Content-Type': 'text/plain', Connection: 'keep-alive', 'Keep-Alive': 'timeout=5', 'X-Hop': 'x' });
      res.write('part1;');
      setImmediate(() => res.end('part2'));
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      res.setHeader('X-Backend', name);
      res.setHeader('Content-Type', 'application/json');
      res.end(JSON.stringify({ name, url: req.url, method: req.method, headers: req.headers, body: Buffer.concat(chunks).toString() }));
    });
  });
  server.keepAliveTimeout = 100;
  await new Promise<void>((r) => (typeof listenOn === 'string' ? server.listen(listenOn, r) : server.listen(listenOn, '127.0.0.1', r)));
  closers.push(
    () =>
      new Promise((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  );
  const a = server.address();
  return { server, port: typeof a === 'object' && a ? (a as AddressInfo).port : 0, seen };
}

async function router(listener: Record<string, unknown>, rest: object): Promise<number> {
  const s = await startRouter(listener, rest);
  closers.push(() => (s.router as HttpRouter).close(100));
  return s.port;
}

describe('proxy', () => {
  it('forwards method, target, headers and body, and removes hop-by-hop fields both ways', async () => {
    const b = await backend('b1');
    const port = await router({ pass: 'routes' }, { routes: [{ action: { proxy: `http://127.0.0.1:${b.port}` } }] });
    const r = await fetchText(port, '/p?q=1', {
      method: 'POST',
      body: 'payload',
      headers: { 'X-Custom': 'v', Connection: 'X-Drop, close', 'X-Drop': 'gone', TE: 'trailers', 'Proxy-Authorization': 'secret', Host: 'site.example' },
    });
    expect(r.status).toBe(200);
    const got = JSON.parse(r.body);
    expect(got).toMatchObject({ name: 'b1', url: '/p?q=1', method: 'POST', body: 'payload' });
    expect(got.headers['x-custom']).toBe('v');
    expect(got.headers.host).toBe('site.example');
    expect(got.headers['x-drop']).toBeUndefined();
    expect(got.headers.te).toBeUndefined();
    expect(got.headers['proxy-authorization']).toBeUndefined();
    const s = await fetchText(port, '/stream');
    expect(s.body).toBe('part1;part2');
    expect(s.headers['keep-alive']).toBeUndefined();
    expect(s.headers['x-hop']).toBe('x');
  });

  it("writes its own Server in place of the upstream's, and gives a request without Host the upstream's address", async () => {
    const b = await backend('b1');
    b.server.prependListener('request', (_req: IncomingMessage, res: ServerResponse) => res.setHeader('Server', 'upstream/1'));
    const port = await router({ pass: 'routes' }, { routes: [{ action: { proxy: `http://127.0.0.1:${b.port}` } }] });
    const text = await rawRequest(port, 'GET /nohost HTTP/1.0\r\n\r\n');
    expect(text).toMatch(/\r\nServer: Warden/);
    expect(text).not.toContain('upstream/1');
    expect(JSON.parse(text.slice(text.indexOf('{'))).headers.host).toBe(`127.0.0.1:${b.port}`);
  });

  it('streams a chunked request body', async () => {
    const b = await backend('b1');
    const port = await router({ pass: 'routes' }, { routes: [{ action: { proxy: `http://127.0.0.1:${b.port}` } }] });
    const raw = await rawRequest(
      port,
      'POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n',
    );
    expect(raw).toContain('"body":"abcde"');
  });

  it('proxies to a unix socket', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'router-proxy-'));
    const sock = path.join(dir, 'b.sock');
    await backend('unix', sock);
    const port = await router({ pass: 'routes' }, { routes: [{ action: { proxy: `http://unix:${sock}` } }] });
    expect(JSON.parse((await fetchText(port, '/u')).body)).toMatchObject({ name: 'unix', url: '/u' });
    closers.push(async () => fs.rmSync(dir, { recursive: true, force: true }));
  });

  it('proxies the rewritten target', async () => {
    const b = await backend('b1');
    const port = await router({ pass: 'routes' }, { routes: [{ action: { rewrite: '/v2$uri', proxy: `http://127.0.0.1:${b.port}` } }] });
    expect(JSON.parse((await fetchText(port, '/x')).body).url).toBe('/v2/x');
  });

  /** An upstream that answers every request with `answer` (raw bytes) and then closes. */
  async function rawBackend(answer: string): Promise<number> {
    const server = createNetServer((c) => {
      c.once('data', () => c.end(answer));
      c.on('error', () => undefined);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    closers.push(() => new Promise((r) => server.close(() => r())));
    return (server.address() as AddressInfo).port;
  }

  it('takes an upstream head up to 64 KiB, as Unit (proxy_header_buffer_size)', async () => {
    for (const [n, code] of [
      [20_000, 200],
      [60_000, 200],
      [70_000, 502],
    ] as const) {
      const up = await rawBackend(`HTTP/1.1 200 OK\r\nX-Big: ${'a'.repeat(n)}\r\nContent-Length: 2\r\n\r\nok`);
      const port = await router({ pass: 'routes' }, { routes: [{ action: { proxy: `http://127.0.0.1:${up}` } }] });
      const text = await rawRequest(port, 'GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
      expect([n, text.slice(9, 12)]).toEqual([n, String(code)]);
      if (code === 200) expect([/\r\nX-Big: (a*)\r\n/.exec(text)?.[1].length, text.endsWith('\r\n\r\nok')]).toEqual([n, true]);
    }
  });

  it('answers 502 for a body malformed in the bytes read with the head; a body cut short goes out as far as it came', async () => {
    // test_proxy_chunked_invalid: Unit parses the head and the body bytes read with it before it answers.
    for (const body of ['ZZ\r\nxx\r\n0\r\n\r\n', '1\r\nXX\r\n0\r\n\r\n', 'ffffffffffffffffff\r\nx\r\n0\r\n\r\n']) {
      const up = await rawBackend(`HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n${body}`);
      const port = await router({ pass: 'routes' }, { routes: [{ action: { proxy: `http://127.0.0.1:${up}` } }] });
      const text = await rawRequest(port, 'GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
      expect([body, text.split('\r\n')[0]]).toEqual([body, 'HTTP/1.1 502 Bad Gateway']);
    }
    const up = await rawBackend(`HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n65\r\n${'b'.repeat(100)}`);
    const port = await router({ pass: 'routes' }, { routes: [{ action: { proxy: `http://127.0.0.1:${up}` } }] });
    const text = await rawRequest(port, 'GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    expect(text.split('\r\n')[0]).toBe('HTTP/1.1 200 OK');
    expect(text).toContain('b'.repeat(100));
    expect(text).not.toMatch(/\r\n0\r\n\r\n$/); // not made to look complete
  });

  it("writes Unit's status line, not the upstream's reason phrase", async () => {
    for (const [line, sent] of [
      ['HTTP/1.1 201 Everything Fine', 'HTTP/1.1 201 Created'],
      ['HTTP/1.1 200', 'HTTP/1.1 200 OK'],
      ['HTTP/1.1 299 Custom', 'HTTP/1.1 299 '],
    ]) {
      const up = await rawBackend(`${line}\r\nContent-Length: 2\r\n\r\nok`);
      const port = await router({ pass: 'routes' }, { routes: [{ action: { proxy: `http://127.0.0.1:${up}` } }] });
      const text = await rawRequest(port, 'GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
      expect([line, text.slice(0, text.indexOf('\r\n'))]).toEqual([line, sent]);
    }
  });

  it('answers 502 when the backend is unreachable', async () => {
    const b = await backend('gone');
    const deadPort = b.port;
    await closers.pop()!();
    const port = await router({ pass: 'routes' }, { routes: [{ action: { proxy: `http://127.0.0.1:${deadPort}` } }] });
    expect((await fetchText(port, '/')).status).toBe(502);
  });
});

describe('upstreams', () => {
  it('balances with weighted round robin', async () => {
    const a = await backend('a');
    const b = await backend('b');
    const port = await router(
      { pass: 'upstreams/pool' },
      { upstreams: { pool: { servers: { [`127.0.0.1:${a.port}`]: { weight: 3 }, [`127.0.0.1:${b.port}`]: {} } } } },
    );
    const names: string[] = [];
    for (let i = 0; i < 8; i++) names.push(JSON.parse((await fetchText(port, '/')).body).name);
    expect(names.filter((n) => n === 'a').length).toBe(6);
    expect(names.filter((n) => n === 'b').length).toBe(2);
    // Smooth: b is not starved to the end of a cycle.
    expect(names.slice(0, 4).sort()).toEqual(['a', 'a', 'a', 'b']);
  });

  it('skips servers with weight 0 and is reachable from routes', async () => {
    const a = await backend('a');
    const b = await backend('b');
    const port = await router(
      { pass: 'routes' },
      {
        routes: [{ match: { uri: '/api/*' }, action: { pass: 'upstreams/pool' } }],
        upstreams: { pool: { servers: { [`127.0.0.1:${a.port}`]: { weight: 0 }, [`127.0.0.1:${b.port}`]: { weight: 2 } } } },
      },
    );
    for (let i = 0; i < 3; i++) expect(JSON.parse((await fetchText(port, '/api/x')).body).name).toBe('b');
  });

  it('balances over unix: servers too, and proxies to every address form Unit takes (test_upstreams_rr_unix)', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'router-upstream-'));
    closers.push(async () => fs.rmSync(dir, { recursive: true, force: true }));
    await backend('u0', path.join(dir, 's0'));
    await backend('u1', path.join(dir, 's1'));
    const port = await router({ pass: 'upstreams/one' }, { upstreams: { one: { servers: { [`unix:${dir}/s0`]: {}, [`unix:${dir}/s1`]: {} } } } });
    const names: string[] = [];
    for (let i = 0; i < 4; i++) names.push(JSON.parse((await fetchText(port, '/')).body).name);
    expect(names.sort()).toEqual(['u0', 'u0', 'u1', 'u1']);
    // `*:port` (this host) is an address Unit's proxy takes as well as a listener's.
    const b = await backend('any');
    const any = await router({ pass: 'routes' }, { routes: [{ action: { proxy: `http://*:${b.port}` } }] });
    expect(JSON.parse((await fetchText(any, '/')).body).name).toBe('any');
    await expect(startRouter({ pass: 'routes' }, { routes: [{ action: { proxy: 'http://127.0.0.1:blah' } }] })).rejects.toMatchObject({
      message: 'The "proxy" address is invalid "127.0.0.1:blah"',
    });
  });

  it('checks upstream config', async () => {
    await expect(startRouter({ pass: 'upstreams/u' }, { upstreams: { u: { servers: { 'nohost:1': {} } } } })).rejects.toMatchObject({
      path: '/upstreams/u/servers/nohost:1',
    });
    await expect(startRouter({ pass: 'upstreams/u' }, { upstreams: { u: { servers: { '127.0.0.1:1': { weight: -1 } } } } })).rejects.toMatchObject({
      path: '/upstreams/u/servers/127.0.0.1:1/weight',
    });
  });
});
