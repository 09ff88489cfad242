import fs from 'fs';
import { connect } from 'net';
import { rawRequest } from './helpers';
import type { LeanGateway } from './lean-gateway';
import { PathRouters, PATHS, type PathKind } from './paths';

/**
 * Request heads Unit refuses or reads differently from node:http, on both HTTP paths: node:http alone (a gateway
 * without the lean method, or a listener with an access log) and the lean path (which hands what it does not take
 * to node:http on the same connection).
 */
const paths = new PathRouters();
afterEach(() => paths.cleanup());
const start = (kind: PathKind, listener: Record<string, unknown>, rest: Parameters<typeof paths.start>[2] = {}) => paths.start(kind, listener, rest);

function status(text: string): number {
  const m = /^HTTP\/1\.1 (\d{3})/.exec(text);
  return m ? Number(m[1]) : -1;
}

/** The app's view of the request (the JSON EchoGateway or LeanGateway answered with; lean headers are raw pairs). */
function appView(text: string): { url: string; headers: Record<string, string> } {
  const v = JSON.parse(text.slice(text.indexOf('{'), text.lastIndexOf('}') + 1));
  if (Array.isArray(v.headers)) {
    const h: Record<string, string> = {};
    for (let i = 0; i < v.headers.length; i += 2) h[v.headers[i].toLowerCase()] = v.headers[i + 1];
    v.headers = h;
  }
  return v;
}

describe.each(PATHS)('absolute-form request targets (%s)', (kind) => {
  const adminFirst = {
    routes: [{ match: { host: 'admin.local' }, action: { return: 403 } }, { action: { pass: 'applications/app' } }],
  };

  it('a host route cannot be bypassed: the Host field routes, and an absolute-form target is 400 as in Unit', async () => {
    const { port, gw } = await start(kind, { pass: 'routes' }, adminFirst);
    expect(status(await rawRequest(port, 'GET /e HTTP/1.1\r\nHost: admin.local\r\nConnection: close\r\n\r\n'))).toBe(403);
    expect(status(await rawRequest(port, 'GET /e HTTP/1.1\r\nHost: ADMIN.local.:80\r\nConnection: close\r\n\r\n'))).toBe(403);
    const ok = await rawRequest(port, 'GET /e HTTP/1.1\r\nHost: public\r\nConnection: close\r\n\r\n');
    expect(status(ok)).toBe(200);
    expect(appView(ok).headers.host).toBe('public');
    const calls = gw.calls + ((gw as LeanGateway).lean ?? 0);
    for (const target of ['http://admin.local/e', 'HTTP://ADMIN.LOCAL/e', 'https://admin.local/e', 'http://public/e']) {
      const text = await rawRequest(port, `GET ${target} HTTP/1.1\r\nHost: public\r\n\r\n`);
      expect([target, status(text)]).toEqual([target, 400]);
      expect(text).toMatch(/Connection: close/);
    }
    expect(gw.calls + ((gw as LeanGateway).lean ?? 0)).toBe(calls); // the app saw none of them
  });

  it.each([
    ['host', { host: 'admin.local' }],
    ['uri', { uri: '/admin*' }],
    ['arguments', { arguments: { k: '1' } }],
    ['query', { query: 'k=1' }],
    ['scheme', { scheme: 'https' }],
    ['negated host', { host: '!public' }],
    ['the Host field', { headers: { host: 'admin.local' } }],
  ])('match on %s: every absolute-form spelling is 400, never the app', async (_key, match) => {
    const { port, gw } = await start(kind, { pass: 'routes' }, { routes: [{ match, action: { return: 403 } }, { action: { pass: 'applications/app' } }] });
    for (const target of [
      'http://admin.local/admin?k=1',
      'https://admin.local/admin?k=1',
      'http://admin.local:80/admin?k=1',
      'http://x@admin.local/admin?k=1',
    ]) {
      expect([target, status(await rawRequest(port, `GET ${target} HTTP/1.1\r\nHost: public\r\n\r\n`))]).toEqual([target, 400]);
    }
    expect(gw.calls).toBe(0);
  });

  it('the other non-origin forms are 400 too (asterisk, authority)', async () => {
    const { port, gw } = await start(kind, { pass: 'applications/app' });
    expect(status(await rawRequest(port, 'OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n'))).toBe(400);
    expect(status(await rawRequest(port, 'GET admin.local:80 HTTP/1.1\r\nHost: x\r\n\r\n'))).toBe(400);
    expect(gw.calls).toBe(0);
  });

  it('$host, the access log and the Host the app sees are the same value', async () => {
    const { port, router, log } = await start(
      kind,
      { pass: 'routes' },
      {
        routes: [{ match: { uri: '/r' }, action: { return: 301, location: 'http://$host/moved' } }, { action: { pass: 'applications/app' } }],
      },
    );
    const r = await rawRequest(port, 'GET /r HTTP/1.1\r\nHost: Site.Example:8080\r\nConnection: close\r\n\r\n');
    expect(r).toMatch(/\r\nLocation: http:\/\/site\.example\/moved\r\n/);
    const a = await rawRequest(port, 'GET /app HTTP/1.1\r\nHost: site.example\r\nConnection: close\r\n\r\n');
    expect(appView(a).headers.host).toBe('site.example');
    await rawRequest(port, 'GET http://other/app HTTP/1.1\r\nHost: site.example\r\n\r\n');
    if (log !== null) {
      await paths.close(router);
      expect(fs.readFileSync(log, 'utf8')).toBe('301 site.example /r\n200 site.example /app\n400 site.example /\n');
    }
  });
});

describe.each(PATHS)('request lines and fields Unit refuses (%s)', (kind) => {
  it.each([
    ['HTTP/2.0 (505, as Unit and nginx)', 'GET / HTTP/2.0\r\nHost: x\r\n\r\n', 505],
    ['HTTP/3.0', 'GET / HTTP/3.0\r\nHost: x\r\n\r\n', 505],
    ['an HTTP/0.9 request line (400)', 'GET /\r\n\r\n', 400],
    ['HTTP/0.9 spelled out', 'GET / HTTP/0.9\r\n\r\n', 400],
    ['a second Host field', 'GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n', 400],
    ['a second Host field, same value', 'GET / HTTP/1.1\r\nHost: a\r\nhost: a\r\n\r\n', 400],
    ['a Host with a slash', 'GET / HTTP/1.1\r\nHost: a/b\r\n\r\n', 400],
    ['a Host with an empty label', 'GET / HTTP/1.1\r\nHost: a..b\r\n\r\n', 400],
    ['Transfer-Encoding on HTTP/1.0', 'POST / HTTP/1.0\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n', 400],
    ['CONNECT host:port (400, as Unit: not origin-form)', 'CONNECT x:443 HTTP/1.1\r\nHost: x:443\r\n\r\n', 400],
    ['CONNECT with a path (405)', 'CONNECT / HTTP/1.1\r\nHost: x\r\n\r\n', 405],
    [
      'a transfer coding other than chunked (501, nxt_h1p_transfer_encoding)',
      'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n',
      501,
    ],
  ])('%s is answered and the connection closed; the app never sees it', async (_name, req, want) => {
    const { port, gw } = await start(kind, { pass: 'applications/app' });
    const text = await rawRequest(port, req);
    expect(status(text)).toBe(want);
    expect(text).toMatch(/\r\nConnection: close\r\n/);
    expect(text).toMatch(new RegExp(`<title>Error ${want}</title>`));
    expect(gw.calls).toBe(0);
  });

  it('HTTP/1.1 without Host is served with an empty host, as in Unit', async () => {
    const { port, gw } = await start(
      kind,
      { pass: 'routes' },
      {
        routes: [{ match: { host: '' }, action: { pass: 'applications/app' } }, { action: { return: 404 } }],
      },
    );
    const text = await rawRequest(port, 'GET /nohost HTTP/1.1\r\nConnection: close\r\n\r\n');
    expect(status(text)).toBe(200);
    expect(appView(text).url).toBe('/nohost');
    expect(gw.calls + ((gw as LeanGateway).lean ?? 0)).toBe(1);
  });

  it('a chunked body on HTTP/1.1 is still taken', async () => {
    const { port } = await start(kind, { pass: 'applications/app' });
    const text = await rawRequest(port, 'POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n3\r\nabc\r\n0\r\n\r\n');
    expect(status(text)).toBe(200);
  });
});

describe('heads Unit tolerates', () => {
  const lfHead = 'GET /lf?x=1 HTTP/1.1\nHost: x\nConnection: close\n\n';
  const spaced = 'GET   /a b   HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n';

  it('lean path: bare LF line ends and spaces in or around the target are served, as in Unit', async () => {
    const { port, gw } = await start('lean', { pass: 'applications/app' });
    const a = await rawRequest(port, lfHead);
    expect(status(a)).toBe(200);
    expect(appView(a).url).toBe('/lf?x=1');
    const b = await rawRequest(port, spaced);
    expect(status(b)).toBe(200);
    expect(appView(b).url).toBe('/a b');
    expect((gw as LeanGateway).lean).toBe(2);
  });

  it('lean path through routes: matched on the decoded target, also when the action is answered by node:http', async () => {
    const { port } = await start(
      'lean',
      { pass: 'routes' },
      {
        routes: [
          { match: { uri: '/a b' }, action: { return: 204 } },
          { match: { uri: '/lf' }, action: { return: 200, location: '$request_uri' } },
          { action: { pass: 'applications/app' } },
        ],
      },
    );
    expect(status(await rawRequest(port, spaced))).toBe(204);
    const lf = await rawRequest(port, lfHead);
    expect(status(lf)).toBe(200);
    expect(lf).toContain('\r\nLocation: /lf?x=1\r\n');
  });

  it('a head mixing CRLF and bare LF line ends is 400 on every path (request smuggling through a CRLF-only proxy)', async () => {
    for (const kind of PATHS) {
      const { port, gw } = await start(kind, { pass: 'applications/app' });
      const smuggle = 'GET / HTTP/1.1\r\nHost: x\r\nX-A: a\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n';
      expect([kind, status(await rawRequest(port, smuggle))]).toEqual([kind, 400]);
      expect(gw.calls + ((gw as LeanGateway).lean ?? 0)).toBe(0);
    }
  });

  it('node:http alone (listeners with an access log, forwarded or log_route) serves them too (HeadNormalizer)', async () => {
    for (const kind of ['node:http', 'node:http with access log'] as const) {
      const { port } = await start(kind, { pass: 'applications/app' });
      expect([kind, status(await rawRequest(port, lfHead))]).toEqual([kind, 200]);
      expect([kind, status(await rawRequest(port, spaced))]).toEqual([kind, 200]);
    }
  });
});

describe.each(PATHS)('targets as Unit reads them: any byte but NUL, CR and LF, and a fragment ends path and query (%s)', (kind) => {
  const latin1 = (s: string) => Buffer.from(s, 'utf8').toString('latin1');
  const get = (target: string) =>
    rawRequest(port, Buffer.concat([Buffer.from('GET '), Buffer.from(target, 'utf8'), Buffer.from(' HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')]));
  let port = 0;
  beforeEach(async () => {
    port = (
      await start(
        kind,
        { pass: 'routes' },
        {
          routes: [
            {
              match: { uri: ['/ди', '/'] },
              action: { return: 204, response_headers: { 'X-U': '$uri', 'X-A': '$arg_x', 'X-Y': '$arg_y', 'X-R': '$request_uri' } },
            },
            { match: { uri: '/q', arguments: { a: '1' } }, action: { return: 204, response_headers: { 'X-A': '$arg_a' } } },
            { action: { pass: 'applications/app' } },
          ],
        },
      )
    ).port;
  });
  const field = (text: string, name: string) => new RegExp(`\\r\\n${name}: ([^\\r]*)`).exec(text)?.[1];

  it('bytes outside ASCII and control characters in the target are taken as they are, not 400', async () => {
    // test_static_space_in_name sends `/ди ректория/фа йл` unencoded; Unit's parser refuses only NUL, CR and LF.
    for (const target of ['/ди', '/%D0%B4%D0%B8']) {
      const text = await get(target);
      expect([target, status(text)]).toEqual([target, 204]); // the route's `/ди` matched both
      expect(field(text, 'X-U')).toBe('/%D0%B4%D0%B8'); // one path (a header value is written percent-encoded)
    }
    for (const target of ['/app/фа йл?q=ф', '/app/\x01\x7f\t?x']) {
      const text = await get(target);
      expect([target, status(text)]).toEqual([target, 200]);
      expect(appView(Buffer.from(text, 'latin1').toString('utf8')).url).toBe(latin1(target));
    }
  });

  it('a raw # ends the path and the query; the app and $request_uri keep the target whole', async () => {
    // test_static_index_default (`/#blah` is the index), nxt_http_parse_complex_target.
    let text = await get('/#blah');
    expect(status(text)).toBe(204);
    expect([field(text, 'X-U'), field(text, 'X-R')]).toEqual(['/', '/#blah']);
    text = await get('/?x=1#frag?y=2');
    expect([status(text), field(text, 'X-U'), field(text, 'X-A'), field(text, 'X-Y')]).toEqual([204, '/', '1', '']);
    text = await get('/q?a=1#frag');
    expect([status(text), field(text, 'X-A')]).toEqual([204, '1']);
    text = await get('/%23#x/../../..');
    expect(status(text)).toBe(200); // the path is `/#` (an escaped # stays); what follows the raw # is not a path
    expect(appView(text).url).toBe('/%23#x/../../..');
  });
});

describe.each(PATHS)("a head or a body that stops arriving gets Unit's 408 page (%s)", (kind) => {
  // test_settings_header_read_timeout, test_settings_body_read_timeout: nxt_h1p_conn_request_timeout answers
  // nxt_http_request_error(408), Unit's error page, and closes; the access log has the 408.
  const page =
    /^HTTP\/1\.1 408 Request Timeout\r\nContent-Type: text\/html\r\nContent-Length: \d+\r\n[^]*Connection: close\r\n\r\n<!DOCTYPE html><title>Error 408<\/title>/;
  const settings = { http: { header_read_timeout: 0.4, body_read_timeout: 0.4 } };

  it('a head', async () => {
    const { port } = await start(kind, { pass: 'applications/app' }, { settings });
    expect(await rawRequest(port, 'GET /e HTTP/1.1\r\nHost: x\r\n')).toMatch(page);
  });

  it('a head, after header_read_timeout was lowered on a running listener (test_settings_header_read_timeout)', async () => {
    const { port, router, log } = await start(kind, { pass: 'applications/app' });
    const cfg = {
      applications: { app: {} },
      listeners: { '127.0.0.1:0': { pass: 'applications/app' } },
      settings: { http: { header_read_timeout: 0.5 } },
      ...(log === null ? {} : { access_log: { path: log, format: '$status $host $uri' } }),
    };
    await (await router.prepare(cfg)).commit();
    expect(router.addresses()['127.0.0.1:0'].port).toBe(port);
    const c = connect(port, '127.0.0.1');
    let text = '';
    c.on('data', (d: Buffer) => (text += d.toString('latin1')));
    const closed = new Promise((r) => c.on('close', r));
    c.write('GET /e HTTP/1.1\r\n');
    await new Promise((r) => setTimeout(r, 1200));
    if (!c.destroyed) c.write('Host: x\r\nConnection: close\r\n\r\n');
    await closed;
    expect(text).toMatch(page);
  });

  it('a body', async () => {
    const { port, router, log } = await start(kind, { pass: 'applications/app' }, { settings });
    expect(await rawRequest(port, 'POST /e HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n012')).toMatch(page);
    if (log === null) return;
    await paths.close(router);
    expect(fs.readFileSync(log, 'utf8')).toBe('408 x /e\n');
  });
});

describe.each(PATHS)("WebSocket opening handshakes checked before routing, as Unit's router does (%s)", (kind) => {
  const ws = (over: Record<string, string | undefined>, line = 'GET /e HTTP/1.1') => {
    const h: Record<string, string | undefined> = {
      Host: 'localhost',
      Upgrade: 'websocket',
      Connection: 'Upgrade',
      'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==',
      'Sec-WebSocket-Version': '13',
      ...over,
    };
    const fields = Object.entries(h).filter(([, v]) => v !== undefined);
    return `${line}\r\n${fields.map(([k, v]) => `${k}: ${v}`).join('\r\n')}\r\n\r\n`;
  };

  it.each([
    ['a POST', ws({}, 'POST /e HTTP/1.1'), 400],
    ['HTTP/1.0', ws({}, 'GET /e HTTP/1.0'), 400],
    ['no Sec-WebSocket-Key', ws({ 'Sec-WebSocket-Key': undefined }), 400],
    ['a key of 23 characters', ws({ 'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ=' }), 400],
    ['no Sec-WebSocket-Version', ws({ 'Sec-WebSocket-Version': undefined }), 426],
    ['Sec-WebSocket-Version 8', ws({ 'Sec-WebSocket-Version': '8' }), 426],
  ])('%s is refused and never reaches the route', async (_what, request, code) => {
    const { port, gw } = await start(kind, { pass: 'routes' }, { routes: [{ action: { return: 204 } }] });
    const calls = gw.calls + ((gw as LeanGateway).lean ?? 0);
    const text = await rawRequest(port, request);
    expect(status(text)).toBe(code);
    // Unit names the version it takes on every 426 (nxt_h1p_request_header_send).
    expect(text.split('\r\n\r\n')[0].includes('\r\nSec-WebSocket-Version: 13')).toBe(code === 426);
    expect(gw.calls + ((gw as LeanGateway).lean ?? 0)).toBe(calls);
  });

  it('a return 426 names the WebSocket version too', async () => {
    const { port } = await start(kind, { pass: 'routes' }, { routes: [{ action: { return: 426 } }] });
    expect(await rawRequest(port, 'GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')).toMatch(/^HTTP\/1\.1 426 [^]*\r\nSec-WebSocket-Version: 13\r\n/);
  });

  it('an upgrade or CONNECT pipelined after a request is answered after that request, and the router lives', async () => {
    // node:http hands the upgrade (or CONNECT) over as soon as it parses it, while the app's answer to the request
    // before it is still pending on the socket: answering it then threw (ERR_HTTP_SOCKET_ASSIGNED) and took the
    // router down, or wrote its answer before the pending one. Unit reads the next head only once it has answered.
    const { port } = await start(
      kind,
      { pass: 'routes' },
      { routes: [{ match: { uri: '/e' }, action: { pass: 'applications/app' } }, { action: { return: 204 } }] },
    );
    const first = 'GET /e HTTP/1.1\r\nHost: x\r\n\r\n';
    for (const [second, code] of [
      [ws({}, 'GET /u HTTP/1.1'), 204],
      [ws({ 'Sec-WebSocket-Version': '8' }, 'GET /u HTTP/1.1'), 426],
      ['CONNECT x:1 HTTP/1.1\r\nHost: x\r\n\r\n', 400],
    ] as const) {
      const text = await rawRequest(port, first + second);
      const statuses = [...text.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((m) => Number(m[1]));
      expect([second, statuses]).toEqual([second, [200, code]]);
      expect(appView(text.slice(0, text.lastIndexOf('HTTP/1.1 '))).url).toBe('/e');
    }
    // After a `Connection: close` request nothing more is read.
    const closing = await rawRequest(port, 'GET /e HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' + ws({}, 'GET /u HTTP/1.1'));
    expect([...closing.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((m) => m[1])).toEqual(['200']);
    expect(status(await rawRequest(port, 'GET /x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'))).toBe(204);
  });

  it('a valid handshake (values in any case) and an upgrade to something else are routed', async () => {
    const { port } = await start(kind, { pass: 'routes' }, { routes: [{ action: { return: 204 } }] });
    expect(status(await rawRequest(port, ws({ Upgrade: 'WebSocket', Connection: 'keep-alive, UPGRADE' })))).toBe(204);
    expect(status(await rawRequest(port, ws({ Upgrade: 'h2c', 'Sec-WebSocket-Version': undefined }, 'POST /e HTTP/1.1')))).toBe(204);
  });
});
