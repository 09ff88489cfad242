import { createHash, randomBytes } from 'crypto';
import { Agent, request } from 'http';
import { connect, type Socket } from 'net';
import { HttpRouter, NodeExchange, type ApplicationGateway } from '../src';
import { EchoGateway, fetchText, sendRandomRequests, startRouter } from './helpers';
import { LeanGateway } from './lean-gateway';
import { informationalFits, MAX_INFORMATIONAL } from '../src/internal/error-page';

const routers: HttpRouter[] = [];
afterEach(async () => {
  await Promise.all(routers.splice(0).map((r) => r.close(100)));
});
async function start(listener: Record<string, unknown> = { pass: 'applications/app' }, rest: Parameters<typeof startRouter>[1] = {}, gw = new LeanGateway()) {
  const s = await startRouter(listener, rest, gw);
  routers.push(s.router);
  return { ...s, gw };
}

/** A lean gateway that serves node:http's path through NodeExchange and its own handleLean, as wardend's does. */
class BothPaths extends LeanGateway {
  override handle(
    a: string,
    t: string | undefined,
    req: import('http').IncomingMessage,
    res: import('http').ServerResponse,
    info: import('../src').RequestInfo,
  ): void {
    this.handleLean(a, t, new NodeExchange(req, res, info));
  }
}

/** A raw client: write bytes, read until a condition holds or the server closes. */
class Raw {
  readonly sock: Socket;
  text = '';
  closed = false;
  private waiters: Array<() => void> = [];
  constructor(port: number) {
    this.sock = connect(port, '127.0.0.1');
    this.sock.on('data', (d) => {
      this.text += d.toString('latin1');
      this.wake();
    });
    this.sock.on('error', () => undefined);
    this.sock.on('close', () => {
      this.closed = true;
      this.wake();
    });
  }
  private wake() {
    for (const w of this.waiters.splice(0)) w();
  }
  write(s: string | Buffer): this {
    this.sock.write(typeof s === 'string' ? Buffer.from(s, 'latin1') : s);
    return this;
  }
  /** Resolves when `ok(text)` holds; rejects if the connection closes first. */
  until(ok: (t: string) => boolean): Promise<string> {
    return new Promise((resolve, reject) => {
      const check = () => {
        if (ok(this.text)) resolve(this.text);
        else if (this.closed) reject(new Error(`closed before the condition held; got: ${JSON.stringify(this.text)}`));
        else this.waiters.push(check);
      };
      check();
    });
  }
  /** Resolves with everything once the server closed. */
  end(): Promise<string> {
    return new Promise((resolve) => {
      const check = () => (this.closed ? resolve(this.text) : this.waiters.push(check));
      check();
    });
  }
  /** Number of complete responses so far (counted by status lines). */
  count(): number {
    return (this.text.match(/HTTP\/1\.1 \d\d\d /g) ?? []).length;
  }
}

const GET = 'GET / HTTP/1.1\r\nHost: x\r\n\r\n';

/** Sends `request` with a GET pipelined behind it; resolves with the first response and the rest (the GET's). */
async function beforeGet(port: number, request: string): Promise<[string, string]> {
  const raw = new Raw(port).write(request + GET);
  const text = await raw.until((t) => t.endsWith('}'));
  raw.sock.destroy();
  const split = text.indexOf('HTTP/1.1', 5);
  return [text.slice(0, split), text.slice(split)];
}

describe('lean path: requests and responses', () => {
  it('serves a listener passing to an app without node:http, with the same bytes node:http sends', async () => {
    const { port, gw } = await start();
    const raw = new Raw(port).write(GET);
    const text = await raw.until((t) => t.endsWith('}'));
    raw.sock.destroy();
    expect(gw.lean).toBe(1);
    expect(gw.calls).toBe(0);
    const [head, body] = text.split('\r\n\r\n');
    expect(head.replace(/Date: [^\r]+/, 'Date: D')).toBe(
      [
        'HTTP/1.1 200 OK',
        'Content-Type: application/json',
        `Content-Length: ${body.length}`,
        'X-App: app',
        'Server: Warden/0.1.0',
        'Date: D',
        'Connection: keep-alive',
        'Keep-Alive: timeout=180',
      ].join('\r\n'),
    );
    expect(head).toMatch(/\r\nDate: \w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d GMT\r\n/);
    expect(JSON.parse(body)).toMatchObject({
      app: 'app',
      url: '/',
      method: 'GET',
      version: '1.1',
      headers: ['Host', 'x'],
      info: { remoteAddress: '127.0.0.1', localPort: port, scheme: 'http' },
    });

    // node:http, answering the same way through `handle`, sends the same head.
    const plain: ApplicationGateway = {
      handle(_a, _t, _req, res) {
        res.writeHead(200, ['Content-Type', 'application/json', 'Content-Length', String(body.length), 'X-App', 'app']);
        res.end(body);
      },
    };
    const { port: p2 } = await start(undefined, {}, plain as LeanGateway);
    const r2 = new Raw(p2).write(GET);
    const t2 = await r2.until((t) => t.endsWith('}'));
    r2.sock.destroy();
    expect(t2.replace(/Date: [^\r]+/, 'Date: D')).toBe(text.replace(/Date: [^\r]+/, 'Date: D'));
  });

  it('passes the application target and the connection facts', async () => {
    const { port } = await start({ pass: 'applications/multi/back' });
    const r = await fetchText(port, '/x?y=1');
    expect(JSON.parse(r.body)).toMatchObject({ app: 'multi', target: 'back', url: '/x?y=1' });
  });

  it('keeps connections alive and counts them in stats', async () => {
    const { router, port, gw } = await start();
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    for (let i = 0; i < 5; i++) expect((await fetchText(port, `/k${i}`, { agent })).status).toBe(200);
    expect(gw.lean).toBe(5);
    expect(router.stats()).toEqual({ connections: { accepted: 1, active: 0, idle: 1, closed: 0 }, requests: { total: 5 } });
    agent.destroy();
    while (router.stats().connections.closed < 1) await new Promise((r) => setImmediate(r));
    expect(router.stats().connections).toEqual({ accepted: 1, active: 0, idle: 0, closed: 1 });
  });

  it("keeps an idle connection's listeners few: one 'close' listener of the router beside the connection limit's", async () => {
    // Each listener past the second grows the socket's listener array (144 bytes for a third 'close' listener), paid
    // by every idle keep-alive connection; the lean side's cleanup runs from the router's one listener.
    const { router, port, gw } = await start();
    const raw = new Raw(port).write(GET);
    await raw.until((t) => t.endsWith('}'));
    const sock = gw.exchanges[0]!.socket;
    expect(sock.listenerCount('close')).toBeLessThanOrEqual(2);
    expect(sock.listenerCount('end')).toBeLessThanOrEqual(2);
    raw.sock.destroy();
    while (router.stats().connections.closed < 1) await new Promise((r) => setImmediate(r));
    expect(router.stats().connections).toEqual({ accepted: 1, active: 0, idle: 0, closed: 1 });
    expect((await fetchText(port, '/')).status).toBe(200);
  });

  it("reads a connection's addresses from its handle: no address objects of Node's kept per idle connection", async () => {
    // Node's remoteAddress and localAddress getters cache two objects on the socket for its whole life; the
    // connection's info already holds what requests need (about 100 bytes per idle keep-alive connection).
    const { port, gw } = await start();
    const raw = new Raw(port).write(GET);
    const body = (await raw.until((t) => t.endsWith('}'))).split('\r\n\r\n')[1]!;
    const info = JSON.parse(body).info;
    expect(info).toEqual({ remoteAddress: '127.0.0.1', remotePort: raw.sock.localPort, localAddress: '127.0.0.1', localPort: port, scheme: 'http' });
    const sock = gw.exchanges[0]!.socket as Socket & { _peername?: unknown; _sockname?: unknown };
    expect(sock._peername ?? null).toBeNull();
    expect(sock._sockname ?? null).toBeNull();
    raw.sock.destroy();
  });

  it('answers pipelined requests in order, bodies included', async () => {
    const { port, gw } = await start();
    const raw = new Raw(port).write(
      'GET /1 HTTP/1.1\r\nHost: x\r\n\r\n' +
        'POST /2 HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello' +
        'GET /stream?n=2 HTTP/1.1\r\nHost: x\r\n\r\n' +
        'HEAD /4 HTTP/1.1\r\nHost: x\r\n\r\n' +
        'GET /5 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
    );
    const text = await raw.end();
    expect(gw.lean).toBe(5);
    const urls = [...text.matchAll(/"url":"([^"]+)"/g)].map((m) => m[1]);
    expect(urls).toEqual(['/1', '/2', '/5']); // HEAD has no body; /stream is not JSON
    expect(text).toContain('"size":5');
    expect(text).toContain('Transfer-Encoding: chunked\r\n\r\n8\r\nchunk 0\n\r\n8\r\nchunk 1\n\r\n0\r\n\r\n');
    expect(text.indexOf('chunk 1')).toBeLessThan(text.lastIndexOf('"url":"/5"'));
    expect(text.match(/HTTP\/1\.1 200 OK/g)).toHaveLength(5);
    expect(text.trimEnd().endsWith('}')).toBe(true);
    expect(text).toMatch(/Connection: close\r\n\r\n\{[^{]*"url":"\/5"/);
  });

  it('gives the same answers when pipelined requests with bodies arrive one byte at a time', async () => {
    const { port } = await start();
    const input =
      'POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 7\r\n\r\nabcdefg' +
      'GET /b HTTP/1.1\r\nHost: x\r\n\r\n' +
      'PUT /c HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nConnection: close\r\n\r\nz';
    const strip = (t: string) => t.replace(/Date: [^\r]+/g, 'Date: D').replace(/"remotePort":\d+/g, 'P');
    const whole = strip(await new Raw(port).write(input).end());
    const raw = new Raw(port);
    for (const c of input) {
      raw.write(c);
      await new Promise((r) => setImmediate(r));
    }
    expect(strip(await raw.end())).toBe(whole);
    expect([...whole.matchAll(/"url":"([^"]+)","method":"(\w+)"[^]*?"size":(\d+)/g)].map((m) => m.slice(1).join(' '))).toEqual([
      '/a POST 7',
      '/b GET 0',
      '/c PUT 1',
    ]);
  });

  it('HEAD: the head with its Content-Length, no body', async () => {
    const { port } = await start();
    const [first, second] = await beforeGet(port, 'HEAD /h HTTP/1.1\r\nHost: x\r\n\r\n');
    expect(first).toMatch(/^HTTP\/1\.1 200 OK\r\n[^]*Content-Length: \d+\r\n[^]*\r\n\r\n$/);
    expect(second).toMatch(/^HTTP\/1\.1 200 OK/);
  });

  it('204 without body or framing headers, and the connection goes on', async () => {
    const { port } = await start();
    const [first] = await beforeGet(port, 'GET /empty HTTP/1.1\r\nHost: x\r\n\r\n');
    expect(first).toMatch(/^HTTP\/1\.1 204 No Content\r\n/);
    expect(first).not.toMatch(/Content-Length|Transfer-Encoding/);
  });

  it('HTTP/1.0: closes unless asked to keep alive; a body without length ends with the connection', async () => {
    const { router, port } = await start();
    const closeText = await new Raw(port).write('GET / HTTP/1.0\r\n\r\n').end();
    expect(closeText).toMatch(/^HTTP\/1\.1 200 OK\r\n[^]*Connection: close\r\n/);
    const ka = new Raw(port).write('GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n');
    await ka.until((t) => t.endsWith('}'));
    expect(ka.text).toContain('Connection: keep-alive\r\n');
    ka.write('GET /stream?n=2 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n');
    const all = await ka.end();
    const second = all.slice(all.indexOf('HTTP/1.1', 5));
    expect(second).toMatch(/Connection: close\r\n\r\nchunk 0\nchunk 1\n$/);
    expect(second).not.toContain('Transfer-Encoding');
    expect(router.stats().requests.total).toBe(3);
  });

  it('streams a response without length as chunked on HTTP/1.1', async () => {
    const { port } = await start();
    const r = await fetchText(port, '/stream?n=3');
    expect(r.headers['transfer-encoding']).toBe('chunked');
    expect(r.body).toBe('chunk 0\nchunk 1\nchunk 2\n');
  });

  it('round-trips a 1 MiB Content-Length body with back-pressure both ways', async () => {
    const { port, gw } = await start();
    const body = randomBytes(1 << 20);
    const r = await new Promise<Buffer>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, path: '/echo', method: 'POST', headers: { 'Content-Length': body.length }, agent: false }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve(Buffer.concat(chunks)));
      });
      req.on('error', reject);
      req.end(body);
    });
    expect(r.length).toBe(body.length);
    expect(createHash('sha256').update(r).digest('hex')).toBe(createHash('sha256').update(body).digest('hex'));
    expect(gw.bodyBytes).toBe(body.length);
  });

  it('stops reading a client whose body the app does not take, and goes on when it does', async () => {
    // /echo writes every body chunk to a client that does not read: back-pressure must reach the client socket.
    const { port, gw } = await start(undefined, { settings: { http: { max_body_size: 64 << 20 } } });
    const raw = new Raw(port);
    raw.sock.pause();
    const total = 32 << 20;
    raw.write(`POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: ${total}\r\n\r\n`);
    const piece = Buffer.alloc(1 << 20, 120);
    let written = 0;
    const pump = () => {
      while (written < total) {
        written += piece.length;
        if (!raw.sock.write(piece)) return;
      }
    };
    raw.sock.on('drain', pump);
    pump();
    // With nobody reading the responses, the router stops reading the body well before its end.
    await new Promise((r) => setTimeout(r, 300));
    expect(gw.bodyBytes).toBeLessThan(total / 2);
    // Reading again lets everything through.
    let got = 0;
    raw.sock.removeAllListeners('data');
    raw.sock.on('data', (d: Buffer) => (got += d.length));
    raw.sock.resume();
    while (gw.bodyBytes < total) await new Promise((r) => setTimeout(r, 20));
    raw.sock.destroy();
    expect(gw.bodyBytes).toBe(total);
  });

  it('serves a slow reader a 1 MiB response completely', async () => {
    const { port } = await start();
    const raw = connect(port, '127.0.0.1');
    raw.write('GET /big?n=1048576 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    const chunks: Buffer[] = [];
    raw.on('data', (d: Buffer) => {
      chunks.push(d);
      raw.pause();
      setTimeout(() => raw.resume(), 1); // a slow client
    });
    await new Promise((r) => raw.on('close', r));
    const all = Buffer.concat(chunks);
    const sep = all.indexOf('\r\n\r\n');
    expect(all.subarray(0, sep).toString()).toContain('Content-Length: 1048576');
    expect(all.length - sep - 4).toBe(1048576);
  });

  it('a body given as a view of reused memory reaches a slow reader intact (what the socket did not take is copied)', async () => {
    const { port } = await start();
    const total = 8 << 20;
    // Large pieces: the kernel takes part of one; small ones (just over the size copied anyway): pieces come while
    // the rest of an earlier one waits in the socket.
    for (const [piece, extra] of [
      [256 << 10, ''],
      [256 << 10, '&chunked'],
      [32 << 10, ''],
    ] as const) {
      const sock = connect(port, '127.0.0.1');
      sock.pause(); // the router's socket buffer fills: its writes are partial, then refused
      sock.write(`GET /view?n=${total}&piece=${piece}${extra} HTTP/1.1\r\nHost: x\r\n\r\n`);
      await new Promise((r) => setTimeout(r, 200));
      const chunks: Buffer[] = [];
      let got = 0;
      let head = 0;
      const end = extra ? Buffer.from('\r\n0\r\n\r\n') : null;
      await new Promise<void>((resolve, reject) => {
        sock.on('data', (c: Buffer) => {
          if (chunks.length === 0) head = c.indexOf('\r\n\r\n') + 4; // the head comes whole in the first read
          chunks.push(c);
          got += c.length;
          if (end ? c.length >= end.length && c.subarray(-end.length).equals(end) : got >= head + total) resolve();
        });
        sock.on('close', () => reject(new Error('closed early')));
        sock.resume();
      });
      sock.destroy();
      const all = Buffer.concat(chunks);
      let body = all.subarray(all.indexOf('\r\n\r\n') + 4);
      if (extra) {
        const parts: Buffer[] = [];
        for (let at = 0; ;) {
          const eol = body.indexOf('\r\n', at);
          const size = parseInt(body.toString('latin1', at, eol), 16);
          if (size === 0) break;
          parts.push(body.subarray(eol + 2, eol + 2 + size));
          at = eol + 2 + size + 2;
        }
        body = Buffer.concat(parts);
      }
      expect(body.length).toBe(total);
      for (let i = 0; i < total / piece; i++) {
        const p = body.subarray(i * piece, Math.min(total, (i + 1) * piece));
        if (p.some((b) => b !== i % 251)) throw new Error(`piece ${i}${extra} is not intact: ${p.subarray(0, 8).toString('hex')}...`);
      }
    }
  });

  it('writes small views and pieces of a view at once, in order, on a fast connection', async () => {
    const { port } = await start();
    const r = await fetchText(port, '/view?n=300000&piece=3000');
    expect(r.status).toBe(200);
    const body = Buffer.from(r.body, 'latin1');
    expect(body.length).toBe(300000);
    for (let i = 0; i < 100; i++) expect(body.subarray(i * 3000, (i + 1) * 3000).every((b) => b === i % 251)).toBe(true);
  });

  it('tells the app when the client goes away mid-response, and keeps serving', async () => {
    const { router, port, gw } = await start();
    const raw = new Raw(port).write('GET /big?n=67108864 HTTP/1.1\r\nHost: x\r\n\r\n');
    await raw.until((t) => t.length > 100000);
    raw.sock.destroy();
    while (gw.aborted < 1) await new Promise((r) => setTimeout(r, 5));
    // A client that stops in the middle of its body: the request cannot be complete, the app is told.
    const partial = new Raw(port).write('POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc');
    while (gw.lean < 2) await new Promise((r) => setImmediate(r));
    partial.sock.end();
    while (gw.aborted < 2) await new Promise((r) => setTimeout(r, 5));
    while (router.stats().connections.closed < 2) await new Promise((r) => setImmediate(r));
    expect(router.stats().connections.active).toBe(0);
    expect((await fetchText(port, '/')).status).toBe(200);
  });

  it('answers a client that half-closes after its requests (as Unit), then closes; on both HTTP paths', async () => {
    // The app answers 100 ms late, so the client's FIN is there first.
    class Late extends LeanGateway {
      override handleLean(a: string, t: string | undefined, ex: import('../src').LeanExchange): void {
        setTimeout(() => super.handleLean(a, t, ex), 100);
      }
      override handle(...args: Parameters<LeanGateway['handle']>): void {
        setTimeout(() => super.handle(...args), 100);
      }
    }
    for (const rest of [{}, { access_log: { path: '/dev/null' } }]) {
      const gw = new Late();
      const { router, port } = await start(undefined, rest, gw);
      for (const req of [
        GET,
        'GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
        'GET / HTTP/1.0\r\n\r\n',
        'POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi' + GET,
      ]) {
        const raw = new Raw(port);
        raw.sock.end(Buffer.from(req, 'latin1'));
        const text = await raw.end();
        // Every answer, whole (the last body ends the text: Content-Length, or chunked on node:http's path).
        expect([req, text.match(/HTTP\/1\.1 200 OK/g)?.length, /\}(\r\n0\r\n\r\n)?$/.test(text)]).toEqual([req, req.split('HTTP/1.').length - 1, true]);
      }
      expect(gw.aborted).toBe(0);
      while (router.stats().connections.active > 0) await new Promise((r) => setImmediate(r));
    }
  });

  it('answers 502 to a head HTTP forbids and keeps the connection', async () => {
    const { port } = await start();
    const raw = new Raw(port).write('GET /bad HTTP/1.1\r\nHost: x\r\n\r\n' + GET);
    const text = await raw.until((t) => t.endsWith('}'));
    raw.sock.destroy();
    expect(text).toMatch(
      /^HTTP\/1\.1 502 Bad Gateway\r\nContent-Type: text\/html\r\nContent-Length: 54\r\nServer: Warden\/0\.1\.0\r\nDate: [^\r]+\r\nConnection: keep-alive\r\nKeep-Alive: timeout=180\r\n\r\n<!DOCTYPE html><title>Error 502<\/title><p>Error 502\.\r\n/,
    );
    expect(text).not.toContain('Injected');
  });

  it('a response longer or shorter than its Content-Length is cut and its connection closed', async () => {
    const { port } = await start();
    const long = await new Raw(port).write('GET /long HTTP/1.1\r\nHost: x\r\n\r\n' + GET).end();
    expect(long).toMatch(/\r\n\r\nbbbbbbbbbb$/);
    const short = await new Raw(port).write('GET /short HTTP/1.1\r\nHost: x\r\n\r\n' + GET).end();
    expect(short).toMatch(/\r\n\r\nabc$/);
  });

  it('reads and drops the rest of a body the app answered early, then serves the next request', async () => {
    const { port } = await start();
    const raw = new Raw(port).write('POST /early HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n' + 'z'.repeat(100000) + GET);
    const text = await raw.until((t) => t.endsWith('}'));
    raw.sock.destroy();
    expect(text).toMatch(/^HTTP\/1\.1 200 OK[^]*\r\n\r\nearlyHTTP\/1\.1 200 OK/);
  });
});

describe('lean path: limits and errors', () => {
  it('413 for a Content-Length over max_body_size, 400 for a bad target, connection closed', async () => {
    const { port, gw } = await start(undefined, { settings: { http: { max_body_size: 10 } } });
    expect(await new Raw(port).write('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\nhello world').end()).toMatch(
      /^HTTP\/1\.1 413 Payload Too Large\r\nContent-Type: text\/html\r\nContent-Length: 54\r\nServer: Warden\/0\.1\.0\r\nDate: [^\r]+\r\nConnection: close\r\n\r\n<!DOCTYPE html>/,
    );
    expect(await new Raw(port).write('GET /a/%2e%2e/%2e%2e/x HTTP/1.1\r\nHost: x\r\n\r\n').end()).toMatch(
      /^HTTP\/1\.1 400 Bad Request\r\n[^]*Connection: close\r\n/,
    );
    expect(JSON.parse((await fetchText(port, '/', { method: 'POST', body: '0123456789' })).body).size).toBe(10);
    expect(gw.lean).toBe(1); // the refused ones never reached the gateway
  });

  it('answers 503 when the gateway is not ready and 500 when it throws', async () => {
    class Failing extends LeanGateway {
      override handleLean(_a: string, _t: string | undefined, ex: import('../src').LeanExchange): void {
        if (ex.target === '/throw') throw new Error('boom');
        ex.fail(503);
      }
    }
    const { port } = await start(undefined, {}, new Failing());
    const raw = new Raw(port).write('GET /throw HTTP/1.1\r\nHost: x\r\n\r\nGET /x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    const text = await raw.end();
    expect(text).toMatch(
      /^HTTP\/1\.1 500 Internal Server Error\r\n[^]*Connection: keep-alive[^]*HTTP\/1\.1 503 Service Unavailable\r\n[^]*Connection: close\r\n/,
    );
  });

  it('never crashes on random bytes and still serves', async () => {
    const { port } = await start();
    const pieces = [
      'GET ',
      'POST ',
      'HEAD ',
      '/',
      '%',
      '%2e',
      '..',
      '?',
      ' HTTP/1.1\r\n',
      ' HTTP/1.0\r\n',
      'Host: x\r\n',
      'Content-Length: 3\r\n',
      'Content-Length: 99999999\r\n',
      'Transfer-Encoding: chunked\r\n',
      'Connection: close\r\n',
      '\r\n',
      '\n',
      '\0',
      '\xff',
      'abc',
      'X_Y: z\r\n',
    ];
    await sendRandomRequests(port, pieces, 7, 150, 14);
    expect((await fetchText(port, '/')).status).toBe(200);
  });
});

describe('lean path: hand-off to node:http', () => {
  it.each([
    ['a chunked request body', 'POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n', /"body":"abc"/],
    [
      'Expect: 100-continue',
      'POST /e HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\nxyz',
      /HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 200 OK[^]*"body":"xyz"/,
    ],
    ['obs-text in a field', 'GET /o HTTP/1.1\r\nHost: x\r\nX-A: caf\xe9\r\n\r\n', /"url":"\/o"/],
  ])('%s goes to node:http, after lean requests on the same connection', async (_n, req, want) => {
    const { port, gw } = await start();
    const raw = new Raw(port).write(GET);
    await raw.until((t) => t.endsWith('}'));
    raw.write(req + 'GET /after HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    const text = await raw.end();
    expect(text).toMatch(want);
    expect(text).toMatch(/"url":"\/after"/);
    expect(gw.lean).toBe(1);
    expect(gw.calls).toBe(2); // the hand-off request and the one after it: node:http keeps the connection
  });

  it('node:http answers what it refuses (400, 431) and the router lives on', async () => {
    const { port } = await start();
    expect(await new Raw(port).write('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab').end()).toMatch(/^HTTP\/1\.1 400/);
    expect(await new Raw(port).write(`GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(40000)}\r\n\r\n`).end()).toMatch(/^HTTP\/1\.1 431/);
    expect(await new Raw(port).write('GET / HTTP/1.1\r\nHost: x\r\nX: a\r\n b\r\n\r\n').end()).toMatch(/^HTTP\/1\.1 400/);
    expect(await new Raw(port).write('GET http://x/ HTTP/1.1\r\nHost: x\r\n\r\n').end()).toMatch(/^HTTP\/1\.1 400/);
    // A head split into single bytes is handed over whole.
    const raw = new Raw(port);
    for (const c of 'POST /split HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n1\r\nq\r\n0\r\n\r\n') {
      raw.write(c);
      await new Promise((r) => setImmediate(r));
    }
    expect(await raw.end()).toMatch(/"url":"\/split"[^]*"body":"q"/);
  });

  it('uses node:http for listeners with forwarded, an access log or log_route, and for gateways without handleLean', async () => {
    const routes = [{ action: { pass: 'applications/app' } }];
    const fw = { pass: 'applications/app', forwarded: { client_ip: 'X-Forwarded-For', source: ['127.0.0.1'] } };
    for (const [listener, rest] of [
      [fw, {}],
      [{ pass: 'routes' }, { routes, settings: { http: { log_route: true } } }],
      [{ pass: 'applications/app' }, { access_log: { path: '/dev/null' } }],
    ] as const) {
      const { port, gw } = await start(listener, rest);
      expect((await fetchText(port, '/')).status).toBe(200);
      expect([gw.lean, gw.calls]).toEqual([0, 1]);
    }
    const { port: p2, gw: g2 } = await start(undefined, {}, new EchoGateway() as LeanGateway);
    expect((await fetchText(p2, '/')).status).toBe(200);
    expect(g2.calls).toBe(1);
  });

  it('routes: a matched step passing to an app is lean (rewrite included); other actions go to node:http', async () => {
    const routes = {
      main: [
        { match: { uri: '/ret' }, action: { return: 209 } },
        { match: { uri: '/rh' }, action: { pass: 'applications/app', response_headers: { 'X-Rh': '1' } } },
        { match: { uri: '/old/*' }, action: { rewrite: '/new$uri', pass: 'routes/sub' } },
        { match: { headers: { 'X-To': 'other' } }, action: { pass: 'applications/$header_x_to' } },
        { match: { uri: '/app*' }, action: { pass: 'applications/app' } },
      ],
      sub: [{ action: { pass: 'applications/multi/front' } }],
    };
    const { port, gw } = await start({ pass: 'routes/main' }, { routes });
    const lean = async (path: string, headers: Record<string, string> = {}) => {
      const before = [gw.lean, gw.calls];
      const r = await fetchText(port, path, { headers });
      return { r, lean: gw.lean - before[0], node: gw.calls - before[1] };
    };
    let x = await lean('/app/1');
    expect([x.lean, x.node]).toEqual([1, 0]);
    expect(JSON.parse(x.r.body)).toMatchObject({ app: 'app', url: '/app/1' });
    x = await lean('/old/a?q=1');
    expect([x.lean, x.node]).toEqual([1, 0]);
    expect(JSON.parse(x.r.body)).toMatchObject({ app: 'multi', target: 'front', url: '/new/old/a?q=1' }); // the request keeps its query (Unit's rewrite)
    x = await lean('/z', { 'X-To': 'other' });
    expect([x.lean, x.node]).toEqual([1, 0]);
    expect(JSON.parse(x.r.body).app).toBe('other');
    x = await lean('/rh');
    expect([x.lean, x.node, x.r.headers['x-rh']]).toEqual([0, 1, '1']);
    x = await lean('/ret');
    expect([x.lean, x.r.status]).toEqual([0, 209]);
    x = await lean('/nowhere');
    expect([x.lean, x.r.status]).toEqual([0, 404]);
    // Repeated field names: node:http's joining rules decide, so node:http serves it.
    const rep = await new Raw(port).write('GET /app/r HTTP/1.1\r\nHost: x\r\nX-A: 1\r\nx-a: 2\r\nConnection: close\r\n\r\n').end();
    expect(rep).toMatch(/"url":"\/app\/r"/);
    expect(gw.lean).toBe(3);
  });

  it('a connection switches to node:http when a reconfiguration takes the lean path away', async () => {
    const gw = new LeanGateway();
    const router = new HttpRouter({ ephemeralPorts: true, gateway: gw });
    routers.push(router);
    const routes = [{ action: { pass: 'applications/app', response_headers: { 'X-R': '1' } } }];
    const cfg = (pass: string) => ({ applications: { app: {} }, routes, listeners: { '127.0.0.1:0': { pass } } });
    await (await router.prepare(cfg('applications/app'))).commit();
    const port = router.addresses()['127.0.0.1:0'].port;
    const raw = new Raw(port).write(GET);
    await raw.until((t) => t.endsWith('}'));
    await (await router.prepare(cfg('routes'))).commit();
    raw.write('GET /now HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    expect(await raw.end()).toMatch(/X-R: 1\r\n[^]*"url":"\/now"/);
    expect(gw.lean).toBe(1);
    expect(gw.calls).toBe(1);
    expect(router.stats().connections.accepted).toBe(1);
  });
});

describe("lean path: an app's 1xx responses", () => {
  it('passes at most MAX_INFORMATIONAL of them per request; more are dropped (they are not flow-controlled)', async () => {
    class Hints extends LeanGateway {
      override handleLean(_a: string, _t: string | undefined, ex: import('../src').LeanExchange): void {
        ex.attach({ onBody: () => true, onBodyEnd() {}, onWritable() {}, onAbort() {} });
        for (let i = 0; i < 1000; i++) ex.informational(103, ['Link', `</s${i}.css>; rel=preload`]);
        ex.respond(200, ['Content-Length', '2']);
        ex.write(Buffer.from('ok'), true);
      }
    }
    const { port } = await start(undefined, {}, new Hints());
    const text = await new Raw(port).write('GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n').end();
    expect(text.match(/HTTP\/1\.1 103 /g)?.length).toBe(MAX_INFORMATIONAL);
    expect(text).toMatch(/\r\n\r\nHTTP\/1\.1 200 OK\r\n[^]*\r\n\r\nok$/);
  });

  it('a 1xx as the final head (101 to a request that asked for no upgrade) is 502, on both exchanges', async () => {
    class Switches extends BothPaths {
      override handleLean(_a: string, _t: string | undefined, ex: import('../src').LeanExchange): void {
        ex.attach({ onBody: () => true, onBodyEnd() {}, onWritable() {}, onAbort() {} });
        if (!ex.respond(101, ['Upgrade', 'websocket', 'Connection', 'Upgrade'])) ex.fail(502);
        else ex.end();
      }
    }
    const { port } = await start(undefined, {}, new Switches());
    const lean = await new Raw(port).write('GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n').end();
    expect(lean.split('\r\n')[0]).toBe('HTTP/1.1 502 Bad Gateway');
    // node:http's path (a chunked request body leaves the lean path), through NodeExchange.
    const node = await new Raw(port).write('POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n0\r\n\r\n').end();
    expect(node.split('\r\n')[0]).toBe('HTTP/1.1 502 Bad Gateway');
  });

  it('drops them while the client has not taken what is queued for it', () => {
    expect(informationalFits(1, { writableLength: 0 })).toBe(true);
    expect(informationalFits(1, { writableLength: 1 << 20 })).toBe(false);
    expect(informationalFits(MAX_INFORMATIONAL + 1, null)).toBe(false);
  });
});

describe('a response head the app sends before any body (flushHeaders, event streams)', () => {
  it('goes out at once on both paths, not with the first body bytes', async () => {
    // The app sends its head, and its first event 1.5 s later (Server-Sent Events after res.flushHeaders()).
    class Events extends BothPaths {
      override handleLean(_a: string, _t: string | undefined, ex: import('../src').LeanExchange): void {
        ex.attach({ onBody: () => true, onBodyEnd() {}, onWritable() {}, onAbort() {} });
        ex.respond(200, ['Content-Type', 'text/event-stream']);
        setTimeout(() => ex.write(Buffer.from('data: 1\n\n'), true), 1500);
      }
    }
    const { port } = await start(undefined, {}, new Events());
    for (const request of [
      'GET / HTTP/1.1\r\nHost: x\r\n\r\n', // the lean path
      'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', // node:http's path
    ]) {
      const raw = new Raw(port);
      const t0 = Date.now();
      raw.write(request);
      const head = await raw.until((t) => t.includes('\r\n\r\n'));
      expect([request.slice(0, 4), Date.now() - t0 < 1000]).toEqual([request.slice(0, 4), true]); // it came with the event, 1.5 s later
      expect(head).toMatch(/^HTTP\/1\.1 200 OK\r\n[^]*Content-Type: text\/event-stream\r\n[^]*Transfer-Encoding: chunked\r\n\r\n$/i);
      const all = await raw.until((t) => t.endsWith('0\r\n\r\n'));
      expect(all.slice(head.length)).toBe('9\r\ndata: 1\n\n\r\n0\r\n\r\n');
      raw.sock.destroy();
    }
  });
});

describe('lean path: timeouts and closing', () => {
  it('header_read_timeout: a partial head gets 408 and the connection closes; a trickling one too', async () => {
    const { port } = await start(undefined, { settings: { http: { header_read_timeout: 0.3 } } });
    const t0 = Date.now();
    expect(await new Raw(port).write('GET / HTTP/1.1\r\nHost: x\r\n').end()).toMatch(/^(HTTP\/1\.1 408 Request Timeout\r\n[^]*)?$/);
    expect(Date.now() - t0).toBeLessThan(2000);
    const trickle = new Raw(port).write('GET / HTTP/1.1\r\n');
    const timer = setInterval(() => trickle.write('X-A: 1\r\n'), 50);
    await trickle.end();
    clearInterval(timer);
    expect(Date.now() - t0).toBeLessThan(4000);
  });

  it("idle_timeout, not header_read_timeout, for a new connection that sends nothing; then Unit's 408 (test_settings_idle_timeout_2)", async () => {
    const { port } = await start(undefined, { settings: { http: { header_read_timeout: 0.2, idle_timeout: 0.8 } } });
    const silent = new Raw(port);
    await new Promise((r) => setTimeout(r, 500)); // past header_read_timeout: still open
    expect(silent.text).toBe('');
    expect(silent.sock.destroyed).toBe(false);
    const t = await silent.end(); // closed after idle_timeout with Unit's 408 (no body)
    expect(t).toMatch(/^HTTP\/1\.1 408 Request Timeout\r\n/);
    expect(t).toContain('\r\nContent-Length: 0\r\n');
    expect(t).toContain('\r\nConnection: close\r\n');
    expect(t.endsWith('\r\n\r\n')).toBe(true);
  });

  it('header_read_timeout counts from the first bytes of a head, not from the connect', async () => {
    const { port } = await start(undefined, { settings: { http: { header_read_timeout: 0.6, idle_timeout: 5 } } });
    const late = new Raw(port);
    await new Promise((r) => setTimeout(r, 800)); // idle past header_read_timeout
    const t1 = Date.now();
    late.write('GET / HTTP/1.1\r\nHost: x\r\n');
    expect(await late.end()).toMatch(/^(HTTP\/1\.1 408 Request Timeout\r\n[^]*)?$/);
    expect(Date.now() - t1).toBeGreaterThanOrEqual(550); // a timer can be late, never early
  });

  it("body_read_timeout: a client that stops sending its body gets Unit's 408 page and the close", async () => {
    const { port } = await start(undefined, { settings: { http: { body_read_timeout: 0.3 } } });
    const text = await new Raw(port).write('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc').end();
    expect(text).toMatch(/^HTTP\/1\.1 408 Request Timeout\r\n[^]*\r\nConnection: close\r\n\r\n<!DOCTYPE html>/);
  });

  it('idle_timeout closes kept-alive connections; send_timeout drops a client that stops reading', async () => {
    const { router, port } = await start(undefined, { settings: { http: { idle_timeout: 0.2, send_timeout: 0.3 } } });
    const raw = new Raw(port).write(GET);
    await raw.until((t) => t.endsWith('}'));
    expect(raw.text).toContain('Keep-Alive: timeout=0\r\n');
    await raw.end();
    const stuck = new Raw(port);
    stuck.sock.pause();
    stuck.write('GET /big?n=67108864 HTTP/1.1\r\nHost: x\r\n\r\n');
    // The paused client does not see the close; the router's counters do.
    while (router.stats().connections.closed < 2) await new Promise((r) => setTimeout(r, 20));
    expect(router.stats().connections.active).toBe(0);
    stuck.sock.destroy();
  });

  it('does not time out a client waiting for a slow app', async () => {
    class Slow extends LeanGateway {
      override handleLean(a: string, t: string | undefined, ex: import('../src').LeanExchange): void {
        setTimeout(() => super.handleLean(a, t, ex), 600);
      }
    }
    const { port } = await start(undefined, { settings: { http: { send_timeout: 0.2, idle_timeout: 0.2 } } }, new Slow());
    expect((await fetchText(port, '/slow')).status).toBe(200);
  });

  it('an in-flight request on a removed listener finishes, then its connection closes; idle ones close at once', async () => {
    const gw = new LeanGateway();
    const router = new HttpRouter({ ephemeralPorts: true, gateway: gw });
    routers.push(router);
    await (await router.prepare({ applications: { app: {} }, listeners: { '127.0.0.1:0': { pass: 'applications/app' } } })).commit();
    const port = router.addresses()['127.0.0.1:0'].port;
    const idle = new Raw(port).write(GET);
    await idle.until((t) => t.endsWith('}'));
    const busy = new Raw(port).write('GET /never HTTP/1.1\r\nHost: x\r\n\r\n');
    while (gw.lean < 2) await new Promise((r) => setImmediate(r));
    await (await router.prepare({ applications: { app: {} }, listeners: {} })).commit();
    await idle.end();
    expect(busy.closed).toBe(false);
    const ex = gw.exchanges[1];
    ex.respond(200, ['Content-Length', '4']);
    ex.write(Buffer.from('late'), true);
    const text = await busy.end();
    expect(text).toMatch(/Connection: close\r\n\r\nlate$/);
    while (router.stats().connections.closed < 2) await new Promise((r) => setImmediate(r));
    expect(router.stats().connections.active).toBe(0);
  });

  it('close() waits for in-flight lean requests up to the grace period, then drops them', async () => {
    const gw = new LeanGateway();
    const router = new HttpRouter({ ephemeralPorts: true, gateway: gw });
    await (await router.prepare({ applications: { app: {} }, listeners: { '127.0.0.1:0': { pass: 'applications/app' } } })).commit();
    const port = router.addresses()['127.0.0.1:0'].port;
    const pending = fetchText(port, '/never');
    pending.catch(() => undefined);
    while (gw.lean === 0) await new Promise((r) => setImmediate(r));
    const t0 = Date.now();
    await router.close(200);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(150);
    await expect(pending).rejects.toHaveProperty('code', 'ECONNRESET');
    expect(gw.aborted).toBe(1);
    expect(router.stats().connections.closed).toBe(1);
  });
});
