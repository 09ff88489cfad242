import { randomBytes } from 'crypto';
import { readFileSync } from 'fs';
import { connect as netConnect, createServer as createNetServer } from 'net';
import { Agent, request, type RequestOptions } from 'https';
import { join } from 'path';
import { connect as tlsConnect, type TLSSocket } from 'tls';
import { clientHelloServerName } from '../src/internal/client-hello';
import { HttpRouter, RouterConfigError, type ApplicationGateway, type RouterConfig, type TlsCertificate } from '../src';
import { EchoGateway, fetchText, rawRequest, tlsFixture } from './helpers';
import { LeanGateway } from './lean-gateway';

const FIXTURES = join(__dirname, 'fixtures/tls');
const CA = readFileSync(join(FIXTURES, 'ca.pem'));

const bundle = (name: string): TlsCertificate => tlsFixture(name);
const CERTS = { a: bundle('a'), b: bundle('b') };

interface TlsReply {
  status: number;
  headers: Record<string, unknown>;
  body: string;
  /** CN of the certificate the server presented. */
  cn: string;
  socket: TLSSocket;
}

/** One HTTPS request to 127.0.0.1; `servername` is the SNI name ('' sends none) and the name the cert is checked for. */
function httpsGet(port: number, path: string, opts: Partial<RequestOptions> & { servername?: string; session?: Buffer } = {}): Promise<TlsReply> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, ca: CA, agent: false, servername: 'a.example.test', ...opts }, (res) => {
      const chunks: Buffer[] = [];
      const socket = res.socket as TLSSocket;
      const cn = String(socket.getPeerCertificate().subject?.CN ?? '');
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString(), cn, socket }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/** A plain TCP client that sends nothing by itself. */
function rawConnect(port: number) {
  const sock = netConnect(port, '127.0.0.1');
  sock.on('error', () => undefined);
  return {
    sock,
    connected: new Promise<void>((r) => sock.once('connect', () => r())),
    closed: new Promise<void>((r) => sock.once('close', () => r())),
  };
}

const routers: HttpRouter[] = [];
afterEach(async () => {
  await Promise.all(routers.splice(0).map((r) => r.close(100)));
});

async function start(
  listeners: Record<string, Record<string, unknown>>,
  rest: Omit<RouterConfig, 'listeners'> = {},
  gateway: ApplicationGateway = new LeanGateway(),
) {
  const router = new HttpRouter({ ephemeralPorts: true, gateway });
  routers.push(router);
  const config = { applications: { app: {} }, certificates: CERTS, ...rest, listeners };
  await (await router.prepare(config)).commit();
  const port = (name: string) => router.addresses()[name].port;
  return { router, port, config };
}

describe('TLS listeners', () => {
  it('answers a client that half-closes after its request (close_notify and FIN), then closes', async () => {
    class Late extends LeanGateway {
      override handleLean(a: string, t: string | undefined, ex: import('../src').LeanExchange): void {
        setTimeout(() => super.handleLean(a, t, ex), 100);
      }
    }
    const gw = new Late();
    const { port } = await start({ '127.0.0.1:0': { pass: 'applications/app', tls: { certificate: 'a' } } }, {}, gw);
    const text = await new Promise<string>((resolve, reject) => {
      const c = tlsConnect({ host: '127.0.0.1', port: port('127.0.0.1:0'), ca: CA, servername: 'a.example.test' }, () =>
        c.end('GET /x HTTP/1.1\r\nHost: a\r\n\r\n'),
      );
      let got = '';
      c.on('data', (d: Buffer) => (got += d.toString('latin1')));
      c.on('error', reject);
      c.on('close', () => resolve(got));
    });
    expect(text).toMatch(/^HTTP\/1\.1 200 OK[^]*"url":"\/x"[^]*\}$/);
    expect(gw.aborted).toBe(0);
  });

  it('serves HTTPS on the lean path; the app sees scheme https', async () => {
    const gw = new LeanGateway();
    const { port } = await start({ '127.0.0.1:0': { pass: 'applications/app', tls: { certificate: 'a' } } }, {}, gw);
    const res = await httpsGet(port('127.0.0.1:0'), '/hello?x=1');
    expect(res.status).toBe(200);
    expect(res.cn).toBe('a.example.test');
    expect(JSON.parse(res.body).info.scheme).toBe('https');
    expect(gw.lean).toBe(1);
  });

  it('encrypts a body given as a view of reused memory (never written to the socket raw), intact', async () => {
    const gw = new LeanGateway();
    const { port } = await start({ '127.0.0.1:0': { pass: 'applications/app', tls: { certificate: 'a' } } }, {}, gw);
    const piece = 64 << 10;
    const res = await httpsGet(port('127.0.0.1:0'), `/view?n=${32 * piece}&piece=${piece}`);
    expect(res.status).toBe(200);
    const body = Buffer.from(res.body, 'latin1');
    expect(body.length).toBe(32 * piece);
    for (let i = 0; i < 32; i++) expect(body.subarray(i * piece, (i + 1) * piece).every((b) => b === i % 251)).toBe(true);
    expect(gw.lean).toBe(1);
  });

  it('serves HTTPS through node:http (gateway without the lean method, routes, forwarded) with scheme https', async () => {
    const { port } = await start(
      { '127.0.0.1:0': { pass: 'routes', tls: { certificate: 'a' } } },
      { routes: [{ action: { pass: 'applications/app' } }] },
      new EchoGateway(),
    );
    const res = await httpsGet(port('127.0.0.1:0'), '/via-routes', { method: 'POST', headers: { 'content-length': '0' } });
    expect(res.status).toBe(200);
    const echo = JSON.parse(res.body);
    expect(echo.url).toBe('/via-routes');
    expect(echo.info.scheme).toBe('https');
  });

  it('hands a TLS connection from the lean path to node:http mid-stream (return action after a lean request)', async () => {
    const gw = new LeanGateway();
    const routes = [{ match: { uri: '/app' }, action: { pass: 'applications/app' } }, { action: { return: 204 } }];
    const { port } = await start({ '127.0.0.1:0': { pass: 'routes', tls: { certificate: 'a' } } }, { routes }, gw);
    const agent = new Agent({ keepAlive: true, maxSockets: 1, ca: CA, servername: 'a.example.test' });
    try {
      const first = await httpsGet(port('127.0.0.1:0'), '/app', { agent });
      const second = await httpsGet(port('127.0.0.1:0'), '/other', { agent });
      expect([first.status, second.status]).toEqual([200, 204]);
      expect(second.socket).toBe(first.socket);
      expect(gw.lean).toBe(1);
    } finally {
      agent.destroy();
    }
  });

  it('selects the certificate by SNI: exact name, wildcard, else the first one', async () => {
    const { port } = await start({
      '127.0.0.1:0': { pass: 'applications/app', tls: { certificate: ['a', 'b'] } },
      '127.0.0.2:0': { pass: 'applications/app', tls: { certificate: ['b', 'a'] } },
    });
    const p = port('127.0.0.1:0');
    expect((await httpsGet(p, '/', { servername: 'b.example.test' })).cn).toBe('b.example.test');
    expect((await httpsGet(p, '/', { servername: 'A.Example.Test' })).cn).toBe('a.example.test');
    expect((await httpsGet(p, '/', { servername: 'x.wild.test' })).cn).toBe('a.example.test');
    // A wildcard covers one label only; unknown names and clients without SNI get the first certificate.
    expect((await httpsGet(p, '/', { servername: 'x.y.wild.test', rejectUnauthorized: false })).cn).toBe('a.example.test');
    expect((await httpsGet(p, '/', { servername: 'unknown.test', rejectUnauthorized: false })).cn).toBe('a.example.test');
    const q = port('127.0.0.2:0');
    expect((await httpsGet(q, '/', { host: '127.0.0.2', servername: '', rejectUnauthorized: false })).cn).toBe('b.example.test');
    expect((await httpsGet(q, '/', { host: '127.0.0.2', servername: 'a.example.test' })).cn).toBe('a.example.test');
  });

  it('matches routes on scheme and fills $scheme and $request_uri', async () => {
    const routes = [
      { match: { scheme: 'https', uri: '/loc' }, action: { return: 301, location: '$scheme://example.test$request_uri' } },
      { match: { scheme: 'https' }, action: { return: 204 } },
      { action: { return: 403 } },
    ];
    const { port } = await start({ '127.0.0.1:0': { pass: 'routes', tls: { certificate: 'a' } }, '127.0.0.2:0': { pass: 'routes' } }, { routes });
    expect((await httpsGet(port('127.0.0.1:0'), '/x')).status).toBe(204);
    const loc = await httpsGet(port('127.0.0.1:0'), '/loc?a=1');
    expect([loc.status, loc.headers.location]).toEqual([301, 'https://example.test/loc?a=1']);
    expect((await fetchText(port('127.0.0.2:0'), '/x', { host: '127.0.0.2' })).status).toBe(403);
  });

  it('changes the certificate live: established connections keep going, new handshakes get the new one', async () => {
    const gw = new LeanGateway();
    const { router, port, config } = await start({ '127.0.0.1:0': { pass: 'applications/app', tls: { certificate: 'a' } } }, {}, gw);
    const p = port('127.0.0.1:0');
    const agent = new Agent({ keepAlive: true, maxSockets: 1, ca: CA, servername: 'a.example.test' });
    try {
      const before = await httpsGet(p, '/1', { agent });
      expect(before.cn).toBe('a.example.test');
      await (await router.prepare({ ...config, listeners: { '127.0.0.1:0': { pass: 'applications/app', tls: { certificate: 'b' } } } })).commit();
      expect(router.addresses()['127.0.0.1:0'].port).toBe(p);
      const again = await httpsGet(p, '/2', { agent });
      expect(again.status).toBe(200);
      expect(again.socket).toBe(before.socket);
      expect((await httpsGet(p, '/3', { servername: 'b.example.test' })).cn).toBe('b.example.test');
    } finally {
      agent.destroy();
    }
  });

  it('turns TLS on and off on a running listener without rebinding it', async () => {
    const { router, port, config } = await start({ '127.0.0.1:0': { pass: 'applications/app' } });
    const p = port('127.0.0.1:0');
    expect((await fetchText(p, '/plain')).status).toBe(200);
    await (await router.prepare({ ...config, listeners: { '127.0.0.1:0': { pass: 'applications/app', tls: { certificate: 'a' } } } })).commit();
    expect((await httpsGet(p, '/secure')).status).toBe(200);
    await (await router.prepare(config)).commit();
    expect((await fetchText(p, '/plain-again')).status).toBe(200);
  });

  it('answers a plain HTTP request as Unit (nxt_h1p: 400 The plain HTTP request was sent to HTTPS port), garbage with a close', async () => {
    const { port } = await start({ '127.0.0.1:0': { pass: 'applications/app', tls: { certificate: 'a' } } });
    const p = port('127.0.0.1:0');
    const r = await fetchText(p, '/');
    expect(r.status).toBe(400);
    expect(r.body).toBe('<!DOCTYPE html><title>Error 497</title><p>Error 497.\r\n');
    const raw = await rawRequest(p, 'GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    expect(raw).toMatch(/^HTTP\/1\.1 400 The plain HTTP request was sent to HTTPS port\r\n[^]*\r\nConnection: close\r\n\r\n/);
    expect(await rawRequest(p, 'not http at all\r\n\r\n')).toMatch(/^(HTTP\/1\.1 400 [^]*)?$/);
    expect((await httpsGet(p, '/')).status).toBe(200);
  });

  it('drops connections still in the handshake when the router closes, without waiting for their timeout', async () => {
    const { router, port } = await start({ '127.0.0.1:0': { pass: 'applications/app', tls: { certificate: 'a' } } });
    const silent = rawConnect(port('127.0.0.1:0'));
    const partial = rawConnect(port('127.0.0.1:0'));
    await Promise.all([silent.connected, partial.connected]);
    partial.sock.write(Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01])); // a ClientHello record that never completes
    const started = Date.now();
    await router.close(5000);
    await Promise.all([silent.closed, partial.closed]);
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('applies conf_commands Node supports: MinProtocol TLSv1.3 refuses a TLSv1.2-only client', async () => {
    const { port } = await start({
      '127.0.0.1:0': { pass: 'applications/app', tls: { certificate: 'a', conf_commands: { MinProtocol: 'TLSv1.3', Options: 'ServerPreference' } } },
    });
    expect((await httpsGet(port('127.0.0.1:0'), '/')).socket.getProtocol()).toBe('TLSv1.3');
    await expect(httpsGet(port('127.0.0.1:0'), '/', { maxVersion: 'TLSv1.2' })).rejects.toThrow();
  });

  it('resumes sessions from the cache when session.cache_size is set, with tickets off', async () => {
    const running = await start({
      '127.0.0.1:0': { pass: 'applications/app', tls: { certificate: 'a', session: { cache_size: 10, timeout: 60 } } },
    });
    const p = running.port('127.0.0.1:0');
    // TLSv1.2: session ids (TLSv1.3 resumes by tickets only, which are off by default as in Unit).
    const first = await httpsGet(p, '/', { maxVersion: 'TLSv1.2' });
    const session = first.socket.getSession();
    const second = await httpsGet(p, '/', { maxVersion: 'TLSv1.2', session });
    expect(second.socket.isSessionReused()).toBe(true);
    // A reconfiguration that leaves the tls object alone keeps the cache; one that changes it starts afresh.
    const { router, config } = running;
    await (await router.prepare({ ...config, routes: [{ action: { return: 204 } }] })).commit();
    expect((await httpsGet(p, '/', { maxVersion: 'TLSv1.2', session })).socket.isSessionReused()).toBe(true);
    const changed = { '127.0.0.1:0': { pass: 'applications/app', tls: { certificate: 'a', session: { cache_size: 11, timeout: 60 } } } };
    await (await router.prepare({ ...config, listeners: changed })).commit();
    expect((await httpsGet(p, '/', { maxVersion: 'TLSv1.2', session })).socket.isSessionReused()).toBe(false);
    // Unit's default cache_size 0: no server-side cache, every handshake is a full one.
    const plain = await start({ '127.0.0.2:0': { pass: 'applications/app', tls: { certificate: 'a' } } });
    const q = plain.port('127.0.0.2:0');
    const once = await httpsGet(q, '/', { host: '127.0.0.2', maxVersion: 'TLSv1.2' });
    const twice = await httpsGet(q, '/', { host: '127.0.0.2', maxVersion: 'TLSv1.2', session: once.socket.getSession() });
    expect(twice.socket.isSessionReused()).toBe(false);
  });
});

describe('ClientHello SNI reader', () => {
  /** A real ClientHello as Node's client sends it for `servername`. */
  const hello = (servername: string) =>
    new Promise<Buffer>((resolve, reject) => {
      const srv = createNetServer((s) => s.once('data', (d: Buffer) => (resolve(d), s.destroy(), srv.close())));
      srv.listen(0, '127.0.0.1', () => {
        const c = tlsConnect({ host: '127.0.0.1', port: (srv.address() as { port: number }).port, servername });
        c.on('error', () => undefined);
      });
      srv.on('error', reject);
    });

  it('finds the name in a whole ClientHello, waits for a partial one and never throws on garbage', async () => {
    const h = await hello('sni.example.test');
    expect(clientHelloServerName(h)).toBe('sni.example.test');
    for (let n = 0; n < h.length; n += 37) expect(clientHelloServerName(h.subarray(0, n))).toBeUndefined();
    expect(clientHelloServerName(Buffer.from('GET / HTTP/1.1\r\n\r\n'))).toBeNull();
    for (let i = 0; i < 2000; i++) {
      const junk = Buffer.from(h);
      for (let k = 0; k < 8; k++) junk[5 + Math.floor(Math.random() * (junk.length - 5))] = Math.floor(Math.random() * 256);
      expect(() => clientHelloServerName(junk)).not.toThrow();
      expect(() => clientHelloServerName(randomBytes(i % 300))).not.toThrow();
    }
  });
});

describe('TLS listener configuration errors', () => {
  const compile = async (tls: unknown, certificates: Record<string, TlsCertificate> = CERTS) => {
    const router = new HttpRouter({ ephemeralPorts: true, gateway: new EchoGateway() });
    routers.push(router);
    try {
      await router.prepare({ applications: { app: {} }, certificates, listeners: { '127.0.0.1:0': { pass: 'applications/app', tls } } });
    } catch (e) {
      expect(e).toBeInstanceOf(RouterConfigError);
      return { message: (e as RouterConfigError).message, path: (e as RouterConfigError).path };
    }
    throw new Error('accepted');
  };

  it("refuses unknown certificates and bad certificate values in Unit's words", async () => {
    expect(await compile({ certificate: 'nope' })).toEqual({ message: 'Certificate "nope" is not found.', path: '/listeners/127.0.0.1:0/tls/certificate' });
    expect(await compile({ certificate: ['a', 'nope'] })).toEqual({
      message: 'Certificate "nope" is not found.',
      path: '/listeners/127.0.0.1:0/tls/certificate/1',
    });
    expect((await compile({ certificate: [] })).message).toBe('The "certificate" array must contain at least one element.');
    expect((await compile({ certificate: [1] })).message).toBe('The "certificate" array must contain only string values.');
    expect((await compile({})).message).toBe('Required parameter "certificate" is missing.');
    expect((await compile({ certificate: 'a', x: 1 })).message).toBe('Unknown parameter "x".');
  });

  it('refuses a key that does not belong to the certificate', async () => {
    const bad = { a: { key: CERTS.b.key, cert: CERTS.a.cert } };
    expect((await compile({ certificate: 'a' }, bad)).message).toMatch(/^The certificate "a" cannot be used: /);
  });

  it('refuses conf_commands Node cannot apply, naming what it can', async () => {
    expect(await compile({ certificate: 'a', conf_commands: { VerifyMode: 'Peer' } })).toEqual({
      message: expect.stringContaining('The "conf_commands" command "VerifyMode" is not supported by this build; it applies CipherString'),
      path: '/listeners/127.0.0.1:0/tls/conf_commands/VerifyMode',
    });
    expect((await compile({ certificate: 'a', conf_commands: { MinProtocol: 'SSLv3' } })).message).toMatch(/is not one of TLSv1/);
    expect((await compile({ certificate: 'a', conf_commands: { CipherString: 'NO-SUCH-CIPHER' } })).message).toMatch(/^The "conf_commands" cannot be applied/);
    expect((await compile({ certificate: 'a', conf_commands: { Options: 'Bugs' } })).message).toMatch(/"Options" value "bugs" is not supported/);
  });

  it('checks session values as Unit does, and ticket keys Node can use', async () => {
    expect((await compile({ certificate: 'a', session: { timeout: 0 } })).message).toBe('The "timeout" number must be greater than zero.');
    expect((await compile({ certificate: 'a', session: { cache_size: -1 } })).message).toBe('The "cache_size" number must not be negative.');
    expect((await compile({ certificate: 'a', session: { tickets: '!!' } })).message).toBe('Invalid Base64 format for the ticket key "!!".');
    const short = Buffer.alloc(16).toString('base64');
    expect((await compile({ certificate: 'a', session: { tickets: short } })).message).toBe(
      `Invalid length 16 of the ticket key "${short}".  Must be 48 or 80 bytes.`,
    );
    const k80 = Buffer.alloc(80, 1).toString('base64');
    expect((await compile({ certificate: 'a', session: { tickets: k80 } })).message).toMatch(/80 bytes long; this build takes 48-byte keys only/);
    const k48 = Buffer.alloc(48, 2).toString('base64');
    expect((await compile({ certificate: 'a', session: { tickets: [k48, k48] } })).message).toMatch(/holds 2 keys; this build takes exactly one/);
  });

  it('takes "tickets": [] as tickets off, as Unit (test_tls_ticket_array)', async () => {
    const router = new HttpRouter({ ephemeralPorts: true, gateway: new EchoGateway() });
    routers.push(router);
    const tls = { certificate: 'a', session: { tickets: [] } };
    await (await router.prepare({ applications: { app: {} }, certificates: CERTS, listeners: { '127.0.0.1:0': { pass: 'applications/app', tls } } })).commit();
    const port = router.addresses()['127.0.0.1:0'].port;
    const s = tlsConnect({ port, host: '127.0.0.1', rejectUnauthorized: false, maxVersion: 'TLSv1.2' });
    await new Promise((r, j) => s.once('secureConnect', r).once('error', j));
    expect(s.getTLSTicket()).toBeUndefined(); // a TLS 1.2 ticket comes with the handshake: none
    s.destroy();
  });
});
