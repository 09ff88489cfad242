import fs from 'fs';
import { request } from 'http';
import { connect } from 'net';
import path from 'path';
import { HttpRouter, passSegments } from '../src';
import { EchoGateway, fetchText, rawRequest, routerScope, slowHead } from './helpers';
import { LeanGateway } from './lean-gateway';
import { keptAliveConnection } from './paths';

/** Routing, actions and variables as Unit 1.35 answers them (issue 15, "Routing, actions, variables"). */
const { routers, start, tmpDir, compileError } = routerScope('router-compat-');
function tmpFile(name: string): string {
  return path.join(tmpDir(), name);
}

describe('pass values are percent-decoded as in Unit', () => {
  it('applications/loader%2Funit_http names the app loader/unit_http, statically and through a variable', async () => {
    const apps = { applications: { 'loader/unit_http': {}, app: {} } };
    const { port } = await start({ pass: 'applications/loader%2Funit_http' }, apps);
    expect(JSON.parse((await fetchText(port, '/')).body).app).toBe('loader/unit_http');
    const dyn = await start({ pass: 'routes' }, { ...apps, routes: [{ action: { pass: 'applications/$arg_a' } }] });
    // $arg_a is decoded once ("loader%2Funit_http"), the pass segment once more, as in Unit.
    expect(JSON.parse((await fetchText(dyn.port, '/?a=loader%252Funit_http')).body).app).toBe('loader/unit_http');
    expect((await fetchText(dyn.port, '/?a=nope')).status).toBe(404);
  });

  it.each([
    ['applications/a/b/c', 'more than three segments'],
    ['applications//x', 'an empty segment'],
    ['applications/', 'an empty last segment'],
    ['applications/%zz', 'a bad escape'],
  ])('"%s" (%s) is refused with Unit\'s message', async (pass) => {
    const err = await compileError({ applications: { a: {} }, listeners: { '127.0.0.1:0': { pass } } });
    expect(err.message).toBe(`Request "pass" value "${pass}" is invalid.`);
    expect(passSegments(pass)).toBeNull();
  });

  it('splits before decoding', () => {
    expect(passSegments('routes/a%2Fb')).toEqual(['routes', 'a/b']);
    expect(passSegments('applications/caf%C3%A9/t')).toEqual(['applications', 'café', 't']);
  });
});

describe('return as Unit answers it', () => {
  const statusLine = (t: string) => t.slice(0, t.indexOf('\r\n'));
  const body = (t: string) => t.slice(t.indexOf('\r\n\r\n') + 4);

  it.each([
    [600, 'HTTP/1.1 600 '],
    [999, 'HTTP/1.1 999 '],
    [399, 'HTTP/1.1 399 '],
    [307, 'HTTP/1.1 307 '],
    [200, 'HTTP/1.1 200 OK'],
    [0, 'HTTP/1.1 000 '],
    [99, 'HTTP/1.1 099 '],
  ])("%d: Content-Length 0, no error page, Unit's reason phrase (none when Unit has none), Server and Date", async (status, line) => {
    const { port } = await start({ pass: 'routes' }, { routes: [{ action: { return: status } }] });
    const t = await rawRequest(port, 'GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    expect(statusLine(t)).toBe(line);
    expect(t).toMatch(/\r\nContent-Length: 0\r\n/i);
    expect(t).toMatch(/\r\nServer: Warden/);
    expect(t).toMatch(/\r\nDate: \w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d GMT\r\n/); // Unit writes both on every response
    expect(body(t)).toBe('');
  });

  it.each([
    [400, 'HTTP/1.1 400 Bad Request'],
    [451, 'HTTP/1.1 451 '],
    [599, 'HTTP/1.1 599 '],
  ])('%d: the error page', async (status, line) => {
    const { port } = await start({ pass: 'routes' }, { routes: [{ action: { return: status } }] });
    const t = await rawRequest(port, 'GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    expect(statusLine(t)).toBe(line);
    expect(body(t)).toBe(`<!DOCTYPE html><title>Error ${status}</title><p>Error ${status}.\r\n`);
  });

  it.each([
    ['/?:/?#', '/?:/%3F#'],
    ['/##foo?bar', '/#%23foo%3Fbar'],
    ['/a b?c d#e f', '/a%20b?c%20d#e%20f'],
    ['/caf\u00e9', '/caf%C3%A9'],
    ['/already%20encoded?x=%41#frag', '/already%20encoded?x=%41#frag'],
    ['/100%', '/100%25'],
    ['http://h/"<>\\^`{|}', 'http://h/%22%3C%3E%5C%5E%60%7B%7C%7D'],
  ])('location %j is sent as %j', async (location, sent) => {
    const { port } = await start({ pass: 'routes' }, { routes: [{ action: { return: 302, location } }] });
    const t = await rawRequest(port, 'GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    expect(t).toContain(`\r\nLocation: ${sent}\r\n`);
  });

  it('a location with variables is encoded after they are filled in', async () => {
    const { port } = await start({ pass: 'routes' }, { routes: [{ action: { return: 301, location: '/n$uri?$arg_q' } }] });
    const t = await rawRequest(port, 'GET /a%3Fb?q=%23x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    // $uri is "/a?b" (decoded), $arg_q "#x": the first "?" stays, the second is encoded, then the "#" stays.
    expect(t).toContain('\r\nLocation: /n/a?b%3F#x\r\n');
  });
});

describe('variables as Unit computes them', () => {
  it('$request_id is one value per request, however often it is used, and another for the next request', async () => {
    const routes = [{ action: { return: 204, response_headers: { 'X-A': '$request_id', 'X-B': '${request_id}' } } }];
    const { port } = await start({ pass: 'routes' }, { routes });
    const a = await fetchText(port, '/');
    const b = await fetchText(port, '/');
    expect(a.headers['x-a']).toMatch(/^[0-9a-f]{32}$/);
    expect(a.headers['x-b']).toBe(a.headers['x-a']);
    expect(b.headers['x-a']).not.toBe(a.headers['x-a']);
  });

  it('$arg_NAME with a repeated argument takes the last value, as Unit does', async () => {
    const { port } = await start({ pass: 'routes' }, { routes: [{ action: { return: 204, response_headers: { 'X-A': '[$arg_a]' } } }] });
    expect((await fetchText(port, '/?a=1&b=2&a=3')).headers['x-a']).toBe('[3]');
    expect((await fetchText(port, '/?b=2')).headers['x-a']).toBe('[]');
  });

  it('$header_NAME is the first field of that name, not the fields joined', async () => {
    const { port } = await start({ pass: 'routes' }, { routes: [{ action: { return: 204, response_headers: { 'X-A': '[$header_x_t]' } } }] });
    const t = await rawRequest(port, 'GET / HTTP/1.1\r\nHost: x\r\nX-T: one\r\nX-T: two\r\nConnection: close\r\n\r\n');
    expect(t).toContain('\r\nX-A: [one]\r\n');
  });

  it('$request_time counts from the first byte of the request, not from the end of its head', async () => {
    const log = tmpFile('access.log');
    const { port, router } = await start(
      { pass: 'routes' },
      { routes: [{ action: { return: 204 } }], access_log: { path: log, format: '$request_time $uri' } },
    );
    const sock = await slowHead(port, 'GET /slow HTTP/1.1\r\nHost: x\r\n\r\n', 22, 300); // the measured quantity: 300 ms
    // A second request on the same connection is timed from its own first byte, not from the connection's.
    await new Promise((r) => setTimeout(r, 200));
    const second = new Promise((r) => sock.once('data', r));
    sock.write('GET /fast HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    await second;
    sock.destroy();
    await router.close(100);
    routers.splice(routers.indexOf(router), 1);
    const [slow, fast] = fs
      .readFileSync(log, 'utf8')
      .trim()
      .split('\n')
      .map((l) => l.split(' '));
    expect(slow[1]).toBe('/slow');
    expect(Number(slow[0])).toBeGreaterThanOrEqual(0.29);
    expect(fast[1]).toBe('/fast');
    expect(Number(fast[0])).toBeLessThan(0.15);
    expect(slow[0]).toMatch(/^\d+\.\d{3}$/);
  });

  it('access log lines write "-" for a header, argument or cookie the request lacks, as Unit does', async () => {
    const log = tmpFile('access.log');
    const { port, router } = await start(
      { pass: 'routes' },
      { routes: [{ action: { return: 204 } }], access_log: { path: log, format: '[$header_referer] [$arg_a] [$cookie_c] [$uri]' } },
    );
    await fetchText(port, '/x');
    await fetchText(port, '/y?a=1', { headers: { Referer: 'r', Cookie: 'c=2' } });
    const combined = tmpFile('combined.log');
    const c = await start({ pass: 'routes' }, { routes: [{ action: { return: 204 } }], access_log: combined });
    await fetchText(c.port, '/z');
    for (const r of [router, c.router]) {
      await r.close(100);
      routers.splice(routers.indexOf(r), 1);
    }
    expect(fs.readFileSync(log, 'utf8')).toBe('[-] [-] [-] [/x]\n[r] [1] [2] [/y]\n');
    expect(fs.readFileSync(combined, 'utf8')).toMatch(/"GET \/z HTTP\/1\.1" 204 0 "-" "-"\n$/);
  });

  it('a head refused before it was a request is logged with "-" as its request line (test_access_log_partial*)', async () => {
    const log = tmpFile('partial.log');
    const { port, router } = await start({ pass: 'routes' }, { routes: [{ action: { return: 200 } }], access_log: log });
    // A client that ends (or resets) its side in the middle of a head gets no answer; a request line without a
    // version is answered 400 at its end, as Unit does (llhttp alone waits for more).
    const sent = async (data: string, how: 'end' | 'destroy' | 'wait') => {
      const s = connect(port, '127.0.0.1');
      let got = '';
      s.on('data', (d) => (got += d.toString('latin1')));
      s.on('error', () => undefined);
      const closed = new Promise<void>((r) => s.on('close', () => r()));
      s.write(data, () => setTimeout(() => (how === 'end' ? s.end() : how === 'destroy' ? s.destroy() : undefined), 50));
      await closed;
      return got.split('\r\n')[0];
    };
    expect(await sent('GE', 'end')).toBe('');
    expect(await sent('GET / HTTP/1.1', 'destroy')).toBe('');
    expect(await sent('GET / HTTP/1.1\n', 'end')).toBe('');
    expect(await sent('GET /\n', 'wait')).toBe('HTTP/1.1 400 Bad Request');
    expect(await sent('GET /\r\n', 'wait')).toBe('HTTP/1.1 400 Bad Request');
    expect(await sent('GET / HTTP/1.1\n\n', 'end')).toBe('HTTP/1.1 200 OK');
    await router.close(100);
    routers.splice(routers.indexOf(router), 1);
    const lines = fs.readFileSync(log, 'utf8').split('\n');
    expect(lines.map((l) => l.replace(/^127\.0\.0\.1 - - \[[^\]]+\] /, ''))).toEqual([
      '"-" 400 0 "-" "-"',
      '"-" 400 0 "-" "-"',
      '"-" 400 0 "-" "-"',
      expect.stringMatching(/^"-" 400 [1-9]\d* "-" "-"$/),
      expect.stringMatching(/^"-" 400 [1-9]\d* "-" "-"$/),
      '"GET / HTTP/1.1" 200 0 "-" "-"',
      '',
    ]);
  });

  it("text lines escape what the request put in a value (nginx's \\xHH): no forged lines or fields; the format's own text stays", async () => {
    const log = tmpFile('escape.log');
    const routes = [{ action: { return: 200 } }];
    const { port, router } = await start({ pass: 'routes' }, { routes, access_log: { path: log, format: '$remote_addr "$uri" $status\t[$header_x]' } });
    await fetchText(port, '/%0d%0a1.2.3.4%20%22GET%20/forged%22%20200', { headers: { X: 'a\\b\u00e9' } });
    const js = tmpFile('escape-js.log');
    const j = await start({ pass: 'routes' }, { routes, access_log: { path: js, format: '`${remoteAddr} "${uri}"`' } });
    await fetchText(j.port, '/%0d%0aFORGED');
    for (const r of [router, j.router]) {
      await r.close(100);
      routers.splice(routers.indexOf(r), 1);
    }
    expect(fs.readFileSync(log, 'latin1')).toBe('127.0.0.1 "/\\x0D\\x0A1.2.3.4 \\x22GET /forged\\x22 200" 200\t[a\\x5Cb\\xE9]\n');
    expect(fs.readFileSync(js, 'latin1')).toBe('127.0.0.1 \\x22/\\x0D\\x0AFORGED\\x22\n'); // a JavaScript line is the request's doing as a whole
  });

  it("a format given as an object writes one JSON object per line (Unit's JSON log format), its values JSON-escaped", async () => {
    const log = tmpFile('json.log');
    const evil = '", "injected": "1 " \\ \t \u00e9';
    const format = { status: '$status', ua: '$header_user_agent', uri: '`${vars.uri}`', none: '$header_referer' };
    const { port, router } = await start({ pass: 'routes' }, { routes: [{ action: { return: 200 } }], access_log: { path: log, format } });
    await fetchText(port, '/a%0d%0ab', { headers: { 'User-Agent': evil } });
    await router.close(100);
    routers.splice(routers.indexOf(router), 1);
    const lines = fs.readFileSync(log, 'utf8').split('\n');
    expect(lines).toHaveLength(2);
    const record = JSON.parse(lines[0]!) as Record<string, string>;
    expect(Object.keys(record)).toEqual(['status', 'ua', 'uri', 'none']);
    expect(record).toEqual({ status: '200', ua: evil, uri: '/a\r\nb', none: '-' });
    const err = await compileError({ routes: [], access_log: { path: log, format: { a: '$uri', b: '$nope' } }, listeners: {} });
    expect([err.message, err.path]).toEqual(['Unknown variable "nope"', '/access_log/format/b']);
  });

  it('bytes node:http refuses after a request wait for its answer; after Connection: close they are not read (test_chunked_after_last)', async () => {
    // The app answers 100 ms late, so the bad bytes are there first.
    class Late extends LeanGateway {
      override handle(...args: Parameters<LeanGateway['handle']>): void {
        setTimeout(() => super.handle(...args), 100);
      }
    }
    const { port } = await start({ pass: 'applications/app' }, {}, new Late());
    const chunked = (conn: string) => `POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: ${conn}\r\n\r\n1\r\na\r\n0\r\n\r\n`;
    const close = await rawRequest(port, chunked('close') + '1\r\nb\r\n0\r\n\r\n');
    expect(close.match(/HTTP\/1\.1 \d{3}/g)).toEqual(['HTTP/1.1 200']);
    expect(close).toMatch(/"body":"a"/);
    const kept = await rawRequest(port, chunked('keep-alive') + 'BLAH\r\n\r\n');
    expect(kept.match(/HTTP\/1\.1 \d{3}/g)).toEqual(['HTTP/1.1 200', 'HTTP/1.1 400']);
  });

  it('unix sockets: $remote_addr is "unix:", the "unix" address pattern matches them and "*" does not; an empty source list matches nothing (test_client_ip_unix, test_client_ip_empty_source)', async () => {
    const sockPath = path.join(tmpDir(), 'u.sock');
    const router = new HttpRouter({ ephemeralPorts: true, gateway: new EchoGateway() });
    routers.push(router);
    const ip = { return: 200, response_headers: { 'X-IP': '$remote_addr' } };
    const fw = (source: unknown) => ({ pass: 'routes/main', forwarded: { client_ip: 'X-Forwarded-For', source } });
    await (
      await router.prepare({
        listeners: { [`unix:${sockPath}`]: fw('unix'), '127.0.0.1:0': fw('unix'), '127.0.0.2:0': fw([]), '127.0.0.3:0': { pass: 'routes/u' } },
        routes: {
          main: [{ action: ip }],
          u: [
            { match: { source: 'unix' }, action: { return: 201 } },
            { match: { source: '*', destination: '!unix' }, action: ip },
          ],
        },
      })
    ).commit();
    const ports = router.addresses();
    const ask = (o: { socketPath?: string; host?: string; port?: number }) =>
      new Promise<string>((resolve, reject) => {
        request({ ...o, path: '/', headers: { 'X-Forwarded-For': '1.1.1.1' } }, (res) => {
          res.resume();
          res.on('end', () => resolve(`${res.statusCode} ${String(res.headers['x-ip'])}`));
        })
          .on('error', reject)
          .end();
      });
    expect(await ask({ socketPath: sockPath })).toBe('200 1.1.1.1'); // the unix listener's clients are trusted
    expect(await ask({ host: '127.0.0.1', port: ports['127.0.0.1:0'].port })).toBe('200 127.0.0.1');
    expect(await ask({ host: '127.0.0.2', port: ports['127.0.0.2:0'].port })).toBe('200 127.0.0.1'); // no source: no replacement
    expect(await ask({ host: '127.0.0.3', port: ports['127.0.0.3:0'].port })).toBe('200 127.0.0.1'); // not a unix socket: the second step
    await (
      await router.prepare({
        listeners: { [`unix:${sockPath}`]: { pass: 'routes/u' } },
        routes: { u: [{ match: { source: '*' }, action: { return: 201 } }, { action: ip }] },
      })
    ).commit();
    expect(await ask({ socketPath: sockPath })).toBe('200 unix:');
  });

  it('forwarded reads its fields as Unit does (test_forwarded_header.py): protocol from the first field, whole; client_ip items by commas and spaces, with ports, not unspecified', async () => {
    const out = { return: 200, response_headers: { 'X-S': '$scheme', 'X-IP': '$remote_addr' } };
    const fw = { client_ip: 'X-Forwarded-For', protocol: 'X-Forwarded-Proto', source: '127.0.0.1' };
    const { port } = await start({ pass: 'routes', forwarded: fw }, { routes: [{ action: out }] });
    const r = await start(
      { pass: 'routes', forwarded: { client_ip: 'X-Forwarded-For', recursive: true, source: ['127.0.0.1', '10.5.2.1'] } },
      { routes: [{ action: out }] },
    );
    const ask = async (p: number, name: string, values: string[]) => {
      const raw = await rawRequest(p, `GET / HTTP/1.1\r\nHost: x\r\n${values.map((v) => `${name}: ${v}\r\n`).join('')}Connection: close\r\n\r\n`);
      return /X-IP: (.*)\r\n/.exec(raw)![1] + ' ' + /X-S: (.*)\r\n/.exec(raw)![1];
    };
    const scheme = async (...v: string[]) => (await ask(port, 'X-Forwarded-Proto', v)).split(' ')[1];
    const addr = async (...v: string[]) => (await ask(port, 'X-Forwarded-For', v)).split(' ')[0];
    expect([
      await scheme('https'),
      await scheme('oN'),
      await scheme('http, https'),
      await scheme('http, https', 'https'),
      await scheme('https', 'http'),
      await scheme('blah'),
    ]).toEqual(['https', 'https', 'http', 'http', 'https', 'http']);
    expect([
      await addr('1.1.1.1:80'),
      await addr('[::1]:8080'),
      await addr('0.0.0.0'),
      await addr('::'),
      await addr('1.1.1.1 2.2.2.2'),
      await addr('::11.22.33.44'),
      await addr('1.1.1.1:0'),
    ]).toEqual(['1.1.1.1', '::1', '127.0.0.1', '127.0.0.1', '2.2.2.2', '::11.22.33.44', '127.0.0.1']);
    const rec = async (...v: string[]) => (await ask(r.port, 'X-Forwarded-For', v)).split(' ')[0];
    // An item that is no address ends the search with the last trusted address read.
    expect([await rec('8.8.8.8, 1.1.1.1, 10.5.2.1'), await rec('blah, 10.5.2.1'), await rec('10.5.2.1', '10.5.2.1, 1.1.1.1', '10.5.2.1')]).toEqual([
      '1.1.1.1',
      '10.5.2.1',
      '1.1.1.1',
    ]);
  });

  it('a request line without a version is answered 400 at its end on the lean path too', async () => {
    const { port } = await start({ pass: 'applications/app' }, {}, new LeanGateway());
    for (const line of ['GET /\n', 'GET /\r\n', 'GET  /x\r\n']) {
      expect((await rawRequest(port, line)).split('\r\n')[0]).toBe('HTTP/1.1 400 Bad Request');
    }
  });

  it.each([
    ['$', 0],
    ['$uri $', 5],
    ['a$ b', 1],
    ['$1', 0],
    ['${uri', 0],
    ['${}', 0],
    ['${uri }', 0],
    ['x ${ uri}', 2],
  ])('an access_log format Unit refuses (%j) is refused: Invalid variable at position %d', async (format, pos) => {
    const err = await compileError({ routes: [], access_log: { path: tmpFile('a.log'), format }, listeners: {} });
    expect(err.message).toBe(`Invalid variable at position ${pos}`);
    expect(err.path).toBe('/access_log/format');
  });

  it('names are letters and "_" only, as in Unit: $uri1 is $uri then "1"; ${uri}x is $uri then "x"', async () => {
    const { port } = await start({ pass: 'routes' }, { routes: [{ action: { return: 204, response_headers: { 'X-A': '$uri1|${uri}x|$dollar' } } }] });
    expect((await fetchText(port, '/p')).headers['x-a']).toBe('/p1|/px|$');
  });
});

describe('kept-alive connections of a removed listener', () => {
  it.each([
    ['node:http', () => new EchoGateway()],
    ['lean', () => new LeanGateway()],
  ])("%s: an idle one gets Unit's 408 and is closed when the listener goes (config cleared)", async (_k, gw) => {
    const { router, port } = await start({ pass: 'applications/app' }, {}, gw());
    const c = await keptAliveConnection(port);
    await (await router.prepare({ listeners: {} })).commit();
    await c.closed;
    const rest = c.text().slice(c.first);
    expect(rest).toMatch(/^HTTP\/1\.1 408 Request Timeout\r\n/);
    expect(rest).toMatch(/\r\nConnection: close\r\n/);
    expect(rest).toMatch(/\r\nContent-Length: 0\r\n/);
    expect(rest.endsWith('\r\n\r\n')).toBe(true);
  });

  it.each([
    ['node:http', () => new EchoGateway(), { pass: 'routes' }],
    ['lean', () => new LeanGateway(), { pass: 'routes' }],
    ['lean to an app', () => new LeanGateway(), { pass: 'applications/app' }],
  ])('%s: a request whose head had begun is served with the config it began under, then the connection closes (test_reconfigure)', async (_k, gw, listener) => {
    // Unit binds a request to its configuration at its first byte (nxt_h1p_conn_request_init); only connections
    // with nothing of a request yet get the 408.
    const { router, port } = await start(listener, { routes: [{ action: { return: 200 } }] }, gw());
    const c = connect(port, '127.0.0.1');
    let text = '';
    c.on('data', (d: Buffer) => (text += d.toString('latin1')));
    const closed = new Promise((r) => c.on('close', r));
    c.write('GET / HTTP/1.1\r\n');
    await new Promise((r) => setTimeout(r, 100));
    await (await router.prepare({ listeners: {}, applications: {} })).commit();
    c.write('Host: localhost\r\n\r\n');
    await closed;
    expect(text).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(text).toMatch(/\r\nConnection: close\r\n/);
  });
});
