import { createHash } from 'crypto';
import { connect } from 'net';
import { connect as tlsConnect } from 'tls';
import { HttpRouter } from '../src';
import { HeadNormalizer } from '../src/internal/head-normalizer';
import { EchoGateway, rawRequest, tlsFixture } from './helpers';
import { LeanGateway } from './lean-gateway';
import { keptAliveConnection, PathRouters, PATHS } from './paths';

/**
 * Heads Unit takes and llhttp refuses (bare LF line ends, spaces in the target), and Unit's 408 to a kept-alive
 * connection at idle_timeout, on every HTTP path: node:http alone (a gateway without the lean method), the lean
 * path (which hands what it does not take to node:http), node:http because of an access log.
 */
const paths = new PathRouters();
afterEach(() => paths.cleanup());
const start = paths.start.bind(paths);

/** The statuses of the responses in `text`, in order. */
function statuses(text: string): number[] {
  return [...text.matchAll(/(?:^|\r\n|\})HTTP\/1\.1 (\d{3}) /g)].map((m) => Number(m[1]));
}

/** The app's views of the requests answered in `text` (the JSON bodies of EchoGateway / LeanGateway). */
function appViews(text: string): Array<{ url: string; body?: string; sha256?: string; headers: Record<string, string> }> {
  return [...text.matchAll(/\{"app".*?\}(?=\r\n0\r\n|HTTP\/|$)/gs)].map((m) => {
    const v = JSON.parse(m[0]);
    if (Array.isArray(v.headers)) {
      const h: Record<string, string> = {};
      for (let i = 0; i < v.headers.length; i += 2) h[v.headers[i].toLowerCase()] = v.headers[i + 1];
      v.headers = h;
    }
    return v;
  });
}

/** The request body the app got: EchoGateway shows it, LeanGateway its SHA-256. */
function expectBody(view: { body?: string; sha256?: string }, want: string): void {
  if (view.body !== undefined) expect(view.body).toBe(want);
  else expect(view.sha256).toBe(createHash('sha256').update(want).digest('hex'));
}

describe.each(PATHS)('heads Unit takes (%s)', (kind) => {
  it('a head whose lines all end in a bare LF is served', async () => {
    const { port, served } = await start(kind, { pass: 'applications/app' });
    const text = await rawRequest(port, 'GET /lf?x=1 HTTP/1.1\nHost: example\nX-A: v\nConnection: close\n\n');
    expect(statuses(text)).toEqual([200]);
    const [view] = appViews(text);
    expect(view.url).toBe('/lf?x=1');
    expect(view.headers.host).toBe('example');
    expect(view.headers['x-a']).toBe('v');
    expect(served()).toBe(1);
  });

  it('spaces in the target and around it are taken as Unit takes them (the version is the last word)', async () => {
    const { port } = await start(
      kind,
      { pass: 'routes' },
      {
        routes: [{ match: { uri: '/a b/c' }, action: { pass: 'applications/app' } }, { action: { return: 404 } }],
      },
    );
    const text = await rawRequest(port, 'GET   /a b/c?q=1 2   HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    expect(statuses(text)).toEqual([200]);
    expect(appViews(text)[0].url).toBe('/a b/c?q=1 2'); // as received, as Unit hands it on
    const loc = await rawRequest(port, 'GET /x y HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    expect(statuses(loc)).toEqual([404]);
  });

  it('bare-LF heads keep working on a kept-alive connection, after a Content-Length body and a chunked body, and body bytes stay as sent', async () => {
    const { port, served } = await start(kind, { pass: 'applications/app' });
    const body = 'a\nb\n\nGET /not-a-request HTTP/1.1\n\n';
    const text = await rawRequest(
      port,
      `POST /1 HTTP/1.1\nHost: x\nContent-Length: ${body.length}\n\n${body}` +
        'POST /2 HTTP/1.1\nHost: x\nTransfer-Encoding: chunked\n\n4\r\nab\nc\r\n0\r\n\r\n' +
        'GET /3 HTTP/1.1\nHost: x\nConnection: close\n\n',
    );
    expect(statuses(text)).toEqual([200, 200, 200]);
    const views = appViews(text);
    expect(views.map((v) => v.url)).toEqual(['/1', '/2', '/3']);
    expectBody(views[0], body);
    expectBody(views[1], 'ab\nc');
    expect(served()).toBe(3);
  });

  it('a pipelined bare-LF head arriving byte by byte is served', async () => {
    const { port } = await start(kind, { pass: 'applications/app' });
    const sock = connect(port, '127.0.0.1');
    let text = '';
    sock.on('data', (d) => (text += d.toString('latin1')));
    const closed = new Promise((r) => sock.on('close', r));
    await new Promise((r) => sock.once('connect', r));
    const req = 'GET /x y HTTP/1.1\nHost: x\n\nGET /z HTTP/1.1\nHost: x\nConnection: close\n\n';
    for (const ch of req) {
      sock.write(ch);
      await new Promise((r) => setImmediate(r));
    }
    await closed;
    expect(statuses(text)).toEqual([200, 200]);
    expect(appViews(text).map((v) => v.url)).toEqual(['/x y', '/z']);
  });
});

describe.each(PATHS)('refusals that protect against request smuggling stay (%s)', (kind) => {
  it.each([
    ['a CRLF head with one bare-LF line', 'GET / HTTP/1.1\r\nHost: x\r\nX-A: a\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n'],
    ['a bare-LF head with one CRLF line', 'GET / HTTP/1.1\nHost: x\r\nX-A: a\n\n'],
    ['a bare-LF head ended by CRLF', 'GET / HTTP/1.1\nHost: x\n\r\n'],
    ['Transfer-Encoding with Content-Length in a bare-LF head', 'POST / HTTP/1.1\nHost: x\nContent-Length: 3\nTransfer-Encoding: chunked\n\n0\r\n\r\n'],
    ['two different Content-Length in a bare-LF head', 'POST / HTTP/1.1\nHost: x\nContent-Length: 3\nContent-Length: 5\n\nabcde'],
    ['a bare CR in a bare-LF head', 'GET / HTTP/1.1\nHost: x\nX-A: a\rb\n\n'],
  ])('%s is 400 and never reaches the app', async (_name, req) => {
    const { port, served } = await start(kind, { pass: 'applications/app' });
    const text = await rawRequest(port, req);
    expect(statuses(text)).toEqual([400]);
    expect(text).toMatch(/\r\nConnection: close\r\n/);
    expect(served()).toBe(0);
  });

  it('a head inside a Content-Length body is body, not a request', async () => {
    const { port, served } = await start(kind, { pass: 'applications/app' });
    const inner = 'GET /smuggled HTTP/1.1\nHost: x\n\n';
    const text = await rawRequest(port, `POST /outer HTTP/1.1\nHost: x\nContent-Length: ${inner.length}\nConnection: close\n\n${inner}`);
    expect(statuses(text)).toEqual([200]);
    const [view] = appViews(text);
    expect(view.url).toBe('/outer');
    expectBody(view, inner);
    expect(served()).toBe(1);
  });
});

describe.each(PATHS)('idle_timeout on a kept-alive connection (%s)', (kind) => {
  it("gets Unit's 408 (Content-Length: 0, Connection: close) and the connection is closed", async () => {
    const { port } = await start(kind, { pass: 'applications/app' }, { settings: { http: { idle_timeout: 0.3 } } });
    const c = await keptAliveConnection(port);
    const idleSince = Date.now();
    c.sock.on('end', () => c.sock.end());
    await c.closed;
    const rest = c.text().slice(c.first);
    expect(Date.now() - idleSince).toBeLessThan(1250); // at idle_timeout (node:http alone would wait 1 s more)
    expect(rest).toMatch(/^HTTP\/1\.1 408 Request Timeout\r\nServer: Warden[^\r]*\r\nConnection: close\r\nContent-Length: 0\r\nDate: [^\r]+\r\n\r\n$/);
  });
});

describe.each([
  ['node:http', () => new EchoGateway()],
  ['lean', () => new LeanGateway()],
])('over TLS (%s)', (_kind, gateway) => {
  const tlsRouters: HttpRouter[] = [];
  afterEach(() => Promise.all(tlsRouters.splice(0).map((r) => r.close(100))));

  it('bare-LF heads around a chunked body are served, and the idle connection gets the 408', async () => {
    const router = new HttpRouter({ ephemeralPorts: true, gateway: gateway() });
    tlsRouters.push(router);
    await (
      await router.prepare({
        applications: { app: {} },
        certificates: { a: tlsFixture('a') },
        settings: { http: { idle_timeout: 0.3 } },
        listeners: { '127.0.0.1:0': { pass: 'applications/app', tls: { certificate: 'a' } } },
      })
    ).commit();
    const port = router.addresses()['127.0.0.1:0'].port;
    const text = await new Promise<string>((resolve, reject) => {
      const sock = tlsConnect({ host: '127.0.0.1', port, rejectUnauthorized: false }, () =>
        sock.write('POST /1 HTTP/1.1\nHost: x\nTransfer-Encoding: chunked\n\n2\r\nab\r\n0\r\n\r\nGET /2 y HTTP/1.1\nHost: x\n\n'),
      );
      let t = '';
      sock.on('data', (d: Buffer) => (t += d.toString('latin1')));
      sock.on('end', () => sock.end());
      sock.on('close', () => resolve(t));
      sock.on('error', reject);
    });
    expect(statuses(text)).toEqual([200, 200, 408]);
    expect(appViews(text).map((v) => v.url)).toEqual(['/1', '/2 y']);
    expect(text).toMatch(/\r\n\r\nHTTP\/1\.1 408 Request Timeout\r\n[^]*\r\nContent-Length: 0\r\n[^]*\r\n\r\n$/);
  });
});

describe('HeadNormalizer', () => {
  const run = (n: HeadNormalizer, parts: string[]) => parts.map((p) => n.feed(Buffer.from(p, 'latin1')).toString('latin1')).join('');

  it('passes CRLF heads and bodies unchanged, and the same buffer when nothing changes', () => {
    const n = new HeadNormalizer(16384);
    const b = Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    expect(n.feed(b)).toBe(b);
  });

  it('gives the same bytes however the input is split', () => {
    const input =
      'POST /a b HTTP/1.1\nHost: x\nTransfer-Encoding: chunked\n\n3;e=1\r\nx\ny\r\n0\r\nT: 1\r\n\r\nGET / HTTP/1.1\nContent-Length: 2\n\n\n\nGET /z HTTP/1.0\n\n';
    const want = run(new HeadNormalizer(16384), [input]);
    expect(want).toBe(
      'POST /a%20b HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3;e=1\r\nx\ny\r\n0\r\nT: 1\r\n\r\nGET / HTTP/1.1\r\nContent-Length: 2\r\n\r\n\n\nGET /z HTTP/1.0\r\n\r\n',
    );
    for (let cut = 1; cut < input.length; cut++) {
      expect([cut, run(new HeadNormalizer(16384), [input.slice(0, cut), input.slice(cut)])]).toEqual([cut, want]);
    }
    expect(run(new HeadNormalizer(16384), [...input])).toBe(want);
  });

  it('stops rewriting after an Upgrade, a CONNECT or framing it does not follow', () => {
    for (const head of ['GET / HTTP/1.1\nUpgrade: x\n\n', 'CONNECT x:1 HTTP/1.1\n\n', 'POST / HTTP/1.1\nTransfer-Encoding: gzip\n\n']) {
      const n = new HeadNormalizer(16384);
      run(n, [head]);
      expect([head, n.passing]).toEqual([head, true]);
      expect(run(n, ['GET / HTTP/1.1\n\n'])).toBe('GET / HTTP/1.1\n\n');
    }
  });
});
