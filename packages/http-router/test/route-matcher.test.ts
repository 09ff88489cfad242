import { RouteMatcher, RouterConfigError, type MatchRequest } from '../src';

/** Does a single-step route with `match` hit `req`? */
function hits(match: Record<string, unknown>, req: Partial<MatchRequest>): boolean {
  const m = new RouteMatcher([{ match, action: { return: 200 } }]);
  return (
    m.match({ method: 'GET', url: '/', headers: {}, remoteAddress: '127.0.0.1', remotePort: 40000, localAddress: '127.0.0.1', localPort: 8080, ...req }) !==
    null
  );
}

type Row = [string, unknown, Partial<MatchRequest>, boolean];

describe('uri', () => {
  const rows: Row[] = [
    ['exact', '/a', { url: '/a' }, true],
    ['exact, other path', '/a', { url: '/ab' }, false],
    ['case-sensitive', '/a', { url: '/A' }, false],
    ['prefix wildcard', '/static/*', { url: '/static/x/y.css' }, true],
    ['prefix wildcard, miss', '/static/*', { url: '/stat' }, false],
    ['suffix wildcard', '*.php', { url: '/x/index.php' }, true],
    ['middle wildcard', '/a*z', { url: '/abcz' }, true],
    ['middle wildcard needs both ends', '/a*z', { url: '/az/b' }, false],
    ['several wildcards', '/*/img/*.png', { url: '/u/img/p.png' }, true],
    ['several wildcards, order matters', '*b*a*', { url: '/ab' }, false],
    ['several wildcards, no overlap', 'ab*ba', { url: 'aba' }, false],
    ['star matches everything', '*', { url: '/anything' }, true],
    ['negation', '!/admin*', { url: '/public' }, true],
    ['negation hit', '!/admin*', { url: '/admin/x' }, false],
    ['regex', '~^/u/[0-9]+$', { url: '/u/42' }, true],
    ['regex miss', '~^/u/[0-9]+$', { url: '/u/x' }, false],
    ['negated regex', '!~^/u/', { url: '/v' }, true],
    ['matched percent-decoded', '/a b', { url: '/a%20b' }, true],
    ['pattern percent-decoded', '/a%20b', { url: '/a b' }, true],
    ['query is not part of uri', '/p', { url: '/p?x=1' }, true],
    ['dot segments resolved', '/b', { url: '/a/../b' }, true],
    ['encoded dot segments resolved', '/b', { url: '/a/%2e%2e/b' }, true],
    ['adjacent slashes merged', '/a/b', { url: '//a///b' }, true],
    ['array: any positive', ['/a', '/b'], { url: '/b' }, true],
    ['array: none', ['/a', '/b'], { url: '/c' }, false],
    ['array: negatives first', ['/a*', '!/ab'], { url: '/ab' }, false],
    ['array: negative miss then positive', ['/a*', '!/ab'], { url: '/ac' }, true],
    ['array: only negatives, none hits', ['!/a', '!/b'], { url: '/c' }, true],
    ['array: only negatives, one hits', ['!/a', '!/b'], { url: '/b' }, false],
    ['empty pattern', '', { url: '/' }, false],
  ];
  it.each(rows)('%s: %j vs %j → %s', (_n, pattern, req, want) => {
    expect(hits({ uri: pattern }, req)).toBe(want);
  });
});

describe('host, method, scheme, query', () => {
  const rows: Array<[string, Record<string, unknown>, Partial<MatchRequest>, boolean]> = [
    ['host is lower-cased', { host: 'example.com' }, { headers: { host: 'EXAMPLE.com' } }, true],
    ['host pattern is case-insensitive', { host: 'Example.COM' }, { headers: { host: 'example.com' } }, true],
    ['host port removed', { host: 'example.com' }, { headers: { host: 'example.com:8080' } }, true],
    ['host trailing dot removed', { host: 'example.com' }, { headers: { host: 'example.com.' } }, true],
    ['host IPv6 literal keeps brackets, drops port', { host: '[::1]' }, { headers: { host: '[::1]:8080' } }, true],
    ['host absent is empty', { host: '' }, { headers: {} }, true],
    ['host wildcard', { host: '*.example.com' }, { headers: { host: 'www.example.com' } }, true],
    ['host wildcard miss', { host: '*.example.com' }, { headers: { host: 'example.com' } }, false],
    ['host negation array', { host: ['!bad.com', '*'] }, { headers: { host: 'bad.com' } }, false],
    ['host regex is case-insensitive', { host: '~^WWW\\.' }, { headers: { host: 'www.x' } }, true],
    ['method upper-cased', { method: 'get' }, { method: 'GET' }, true],
    ['method array', { method: ['POST', 'PUT'] }, { method: 'put' }, true],
    ['method negation', { method: '!GET' }, { method: 'GET' }, false],
    ['scheme http', { scheme: 'http' }, {}, true],
    ['scheme https', { scheme: 'https' }, {}, false],
    ['scheme https with https', { scheme: 'HTTPS' }, { scheme: 'https' }, true],
    ['query exact', { query: 'a=1&b=2' }, { url: '/?a=1&b=2' }, true],
    ['query wildcard', { query: '*b=2*' }, { url: '/?a=1&b=2' }, true],
    ['query decoded', { query: 'q=a b' }, { url: '/?q=a%20b' }, true],
    ['query case-sensitive', { query: 'A=1' }, { url: '/?a=1' }, false],
    ['query array negation', { query: ['!*debug*'] }, { url: '/?debug=1' }, false],
  ];
  it.each(rows)('%s', (_n, match, req, want) => {
    expect(hits(match, req)).toBe(want);
  });
});

describe('arguments, headers, cookies', () => {
  const rows: Array<[string, Record<string, unknown>, Partial<MatchRequest>, boolean]> = [
    ['argument exact', { arguments: { mode: 'fast' } }, { url: '/?mode=fast' }, true],
    ['argument case-sensitive value', { arguments: { mode: 'fast' } }, { url: '/?mode=FAST' }, false],
    ['argument case-sensitive name', { arguments: { mode: 'fast' } }, { url: '/?MODE=fast' }, false],
    ['argument decoded, + is space', { arguments: { q: 'a b c' } }, { url: '/?q=a+b%20c' }, true],
    ['argument missing', { arguments: { mode: '*' } }, { url: '/?x=1' }, false],
    ['argument repeated: every value must match', { arguments: { id: '2' } }, { url: '/?id=1&id=2' }, false],
    ['argument repeated: all match', { arguments: { id: '~^[0-9]$' } }, { url: '/?id=1&id=2' }, true],
    ['argument without value is empty', { arguments: { flag: '' } }, { url: '/?flag' }, true],
    ['arguments object: all must match', { arguments: { a: '1', b: '2' } }, { url: '/?a=1&b=3' }, false],
    ['arguments array: any object', { arguments: [{ a: '1' }, { b: '2' }] }, { url: '/?b=2' }, true],
    ['argument wildcard', { arguments: { path: '/img/*' } }, { url: '/?path=%2Fimg%2Fa.png' }, true],
    ['argument negation', { arguments: { debug: '!1' } }, { url: '/?debug=1' }, false],
    ['header name case-insensitive', { headers: { 'X-Mode': 'on' } }, { headers: { 'x-mode': 'on' } }, true],
    ['header value case-insensitive', { headers: { Accept: '*json*' } }, { headers: { accept: 'Application/JSON' } }, true],
    ['header missing', { headers: { 'X-Mode': '*' } }, { headers: {} }, false],
    ['headers object: all', { headers: { A: '1', B: '2' } }, { headers: { a: '1', b: '2' } }, true],
    ['headers array: any', { headers: [{ A: '9' }, { B: '2' }] }, { headers: { a: '1', b: '2' } }, true],
    ['header regex', { headers: { 'User-Agent': '~curl/[0-9]' } }, { headers: { 'user-agent': 'curl/8.1' } }, true],
    ['header array with negative', { headers: { Accept: ['!*xml*', '*'] } }, { headers: { accept: 'text/xml' } }, false],
    ['cookie exact', { cookies: { sid: 'abc' } }, { headers: { cookie: 'x=1; sid=abc' } }, true],
    ['cookie case-sensitive', { cookies: { sid: 'abc' } }, { headers: { cookie: 'sid=ABC' } }, false],
    ['cookie name case-sensitive', { cookies: { sid: 'abc' } }, { headers: { cookie: 'SID=abc' } }, false],
    ['cookies array: any', { cookies: [{ a: '1' }, { b: '1' }] }, { headers: { cookie: 'b=1' } }, true],
    ['cookie repeated: every value must match', { cookies: { a: '1' } }, { headers: { cookie: 'a=1; a=2' } }, false],
    ['cookie wildcard', { cookies: { theme: 'dark*' } }, { headers: { cookie: 'theme=darker' } }, true],
  ];
  it.each(rows)('%s', (_n, match, req, want) => {
    expect(hits(match, req)).toBe(want);
  });
});

describe('source and destination', () => {
  const rows: Array<[string, unknown, string, number, boolean]> = [
    ['exact IPv4', '10.0.0.1', '10.0.0.1', 1, true],
    ['exact IPv4 miss', '10.0.0.1', '10.0.0.2', 1, false],
    ['CIDR', '10.0.0.0/8', '10.200.3.4', 1, true],
    ['CIDR miss', '10.0.0.0/8', '11.0.0.1', 1, false],
    ['/32', '10.0.0.7/32', '10.0.0.7', 1, true],
    ['range', '10.0.0.0-10.0.1.255', '10.0.1.9', 1, true],
    ['range miss', '10.0.0.0-10.0.1.255', '10.0.2.0', 1, false],
    ['any with port', '*:8000', '1.2.3.4', 8000, true],
    ['any with port miss', '*:8000', '1.2.3.4', 8001, false],
    ['port range', '*:8000-8010', '1.2.3.4', 8005, true],
    ['address and port range', '192.168.0.0-192.168.1.101:8080-8090', '192.168.1.5', 8081, true],
    ['CIDR and port', '10.0.0.0/8:443', '10.1.1.1', 80, false],
    ['IPv6 exact', '::1', '::1', 1, true],
    ['IPv6 bracket port', '[2001:db8::1]:8000', '2001:db8::1', 8000, true],
    ['IPv6 CIDR', '[2001:db8::/32]', '2001:db8:ffff::5', 1, true],
    ['IPv6 CIDR miss', '2001:db8::/32', '2001:db9::5', 1, false],
    ['IPv6 range', '[fe08::-feff::]:8000', 'fe80::1', 8000, true],
    ['IPv4 rule does not match IPv6', '0.0.0.0/0', '::1', 1, false],
    ['IPv4-mapped address is IPv4', '127.0.0.1', '::ffff:127.0.0.1', 1, true],
    ['negation', '!10.0.0.0/8', '10.0.0.1', 1, false],
    ['negation miss', '!10.0.0.0/8', '192.168.0.1', 1, true],
    ['array: negatives first', ['10.0.0.0/8', '!10.0.0.1'], '10.0.0.1', 1, false],
    ['array: positive', ['10.0.0.0/8', '!10.0.0.1'], '10.0.0.2', 1, true],
    ['array: only negatives', ['!10.0.0.0/8', '!127.0.0.1'], '8.8.8.8', 1, true],
  ];
  it.each(rows)('source %s', (_n, pattern, addr, port, want) => {
    expect(hits({ source: pattern }, { remoteAddress: addr, remotePort: port })).toBe(want);
  });
  it.each(rows)('destination %s', (_n, pattern, addr, port, want) => {
    expect(hits({ destination: pattern }, { localAddress: addr, localPort: port })).toBe(want);
  });
});

describe('steps and if', () => {
  it('takes the first matching step and follows pass to named routes', () => {
    const m = new RouteMatcher({
      main: [{ match: { uri: '/api/*' }, action: { pass: 'routes/api' } }, { action: { share: '/www$uri' } }],
      api: [{ match: { method: 'POST' }, action: { pass: 'applications/writer' } }, { action: { pass: 'applications/reader' } }],
    });
    expect(m.match({ method: 'POST', url: '/api/x', headers: {} }, 'main')).toEqual({ route: 'api', step: 0, action: { pass: 'applications/writer' } });
    expect(m.match({ method: 'GET', url: '/api/x', headers: {} }, 'main')?.action).toEqual({ pass: 'applications/reader' });
    expect(m.match({ method: 'GET', url: '/', headers: {} }, 'main')?.step).toBe(1);
  });

  it('returns null when no step matches (404)', () => {
    const m = new RouteMatcher([{ match: { uri: '/a' }, action: { return: 204 } }]);
    expect(m.match({ method: 'GET', url: '/b', headers: {} })).toBeNull();
  });

  it('all conditions of one match object must hold', () => {
    expect(hits({ uri: '/a', method: 'POST' }, { url: '/a', method: 'GET' })).toBe(false);
    expect(hits({ uri: '/a', method: 'POST' }, { url: '/a', method: 'POST' })).toBe(true);
  });

  it('evaluates if with variables and negation', () => {
    expect(hits({ if: '$arg_debug' }, { url: '/?debug=1' })).toBe(true);
    expect(hits({ if: '$arg_debug' }, { url: '/?debug=0' })).toBe(false);
    expect(hits({ if: '!$cookie_session' }, { headers: {} })).toBe(true);
  });

  it('refuses a target that is not a valid path', () => {
    expect(hits({ uri: '*' }, { url: '/../etc/passwd' })).toBe(false);
    expect(hits({ uri: '*' }, { url: '/a%zz' })).toBe(false);
    expect(hits({ uri: '*' }, { url: '/a%00b' })).toBe(false);
  });
});

describe('compile errors', () => {
  const rows: Array<[string, unknown, string, RegExp]> = [
    ['double star', [{ match: { uri: '/a/**' }, action: { return: 200 } }], '/routes/0/match/uri', /double "\*"/],
    ['double star in array', [{ match: { host: ['a', 'b**'] }, action: { return: 200 } }], '/routes/0/match/host/1', /double/],
    ['bad regex', [{ match: { uri: '~(' }, action: { return: 200 } }], '/routes/0/match/uri', /regular expression/],
    ['unknown match key', [{ match: { path: '/' }, action: { return: 200 } }], '/routes/0/match/path', /Unknown parameter "path"/],
    ['bad scheme', [{ match: { scheme: 'ftp' }, action: { return: 200 } }], '/routes/0/match/scheme', /"http" or "https"/],
    ['bad address', [{ match: { source: '10.0.0.300' }, action: { return: 200 } }], '/routes/0/match/source', /address is invalid/],
    ['bad CIDR', [{ match: { source: '10.0.0.0/33' }, action: { return: 200 } }], '/routes/0/match/source', /invalid/],
    ['bad port range', [{ match: { destination: '*:90-80' }, action: { return: 200 } }], '/routes/0/match/destination', /invalid/],
    ['no action kind', [{ action: { rewrite: '/x' } }], '/routes/0/action', /must have either/],
    ['two action kinds', [{ action: { return: 200, pass: 'routes' } }], '/routes/0/action', /just one of/],
    ['return out of range', [{ action: { return: 1000 } }], '/routes/0/action/return', /out of allowed HTTP status code range 0-999/],
    ['location without return', [{ action: { pass: 'applications/a', location: '/x' } }], '/routes/0/action/location', /Unknown parameter/],
    ['unknown variable', [{ action: { return: 301, location: '$nope' } }], '/routes/0/action/location', /Unknown variable "nope"/],
    [
      'content-length header',
      [{ action: { return: 200, response_headers: { 'Content-Length': '1' } } }],
      '/routes/0/action/response_headers/Content-Length',
      /not supported/,
    ],
    ['pass to a missing route', [{ action: { pass: 'routes/x' } }], '/routes/0/action/pass', /invalid location "routes\/x"/],
    ['bad proxy', [{ action: { proxy: 'https://1.2.3.4:1' } }], '/routes/0/action/proxy', /invalid/],
    ['arguments not an object', [{ match: { arguments: 'x' }, action: { return: 200 } }], '/routes/0/match/arguments', /object/],
  ];
  it.each(rows)('%s', (_n, routes, path, msg) => {
    let err: unknown;
    try {
      new RouteMatcher(routes);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(RouterConfigError);
    expect((err as RouterConfigError).path).toBe(path);
    expect((err as RouterConfigError).message).toMatch(msg);
    expect((err as RouterConfigError).code).toMatch(/^WARDEN_ERR_/);
  });
});

describe('matchIncoming', () => {
  it('matches a real request of your own server, with its socket addresses', async () => {
    const { createServer, get } = await import('http');
    const m = new RouteMatcher([
      { match: { source: '127.0.0.0/8', uri: '/in/*', headers: { 'X-K': 'v' } }, action: { return: 200 } },
      { action: { return: 404 } },
    ]);
    const server = createServer((req, res) => res.end(JSON.stringify(m.matchIncoming(req))));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as import('net').AddressInfo).port;
    const body = await new Promise<string>((resolve) =>
      get({ host: '127.0.0.1', port, path: '/in/x', headers: { 'X-K': 'V' } }, (res) => {
        let b = '';
        res.on('data', (c) => (b += c));
        res.on('end', () => resolve(b));
      }),
    );
    server.close();
    expect(JSON.parse(body)).toEqual({ route: '', step: 0, action: { return: 200 } });
  });
});

describe('empty arrays, as Unit reads them', () => {
  it('an empty array of patterns or of field objects matches every request (test_routes_match_empty_array)', () => {
    for (const key of ['uri', 'method', 'host', 'query', 'arguments', 'headers', 'cookies']) {
      expect([key, hits({ [key]: [] }, { url: '/blah?a=1', headers: { host: 'x', cookie: 'c=1' } })]).toEqual([key, true]);
    }
  });

  it('an empty array of addresses matches none (nxt_http_route_addr_rule)', () => {
    expect(hits({ source: [] }, {})).toBe(false);
    expect(hits({ destination: [] }, {})).toBe(false);
  });
});
