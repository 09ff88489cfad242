import * as http from 'http';
process.env.WARDEN_NODE_LOG_LEVEL = 'silent';
import { once } from 'events';
import { Readable } from 'stream';
import { createHash } from 'crypto';
import { ChannelBinding, parseListenArgs } from '../src/runtime';
import { FakeAppChannel } from './support/fake-channel';

interface Harness {
  channel: FakeAppChannel;
  binding: ChannelBinding;
  server: http.Server;
  exits: number[];
  thrown: unknown[];
}

async function serve(handler: http.RequestListener, listenArgs: unknown[] = [8080]): Promise<Harness> {
  const channel = new FakeAppChannel();
  const exits: number[] = [];
  const thrown: unknown[] = [];
  const binding = new ChannelBinding(channel, { exit: (c) => exits.push(c), rethrow: (e) => thrown.push(e) });
  const server = http.createServer(handler);
  binding.listen(server, listenArgs);
  await once(server, 'listening');
  return { channel, binding, server, exits, thrown };
}

describe('listen over the channel', () => {
  it('binds no port, calls the listen callback, emits listening and then sends READY', async () => {
    const channel = new FakeAppChannel();
    const binding = new ChannelBinding(channel, { exit: () => undefined });
    const server = http.createServer();
    const order: string[] = [];
    server.on('listening', () => order.push(`listening ready=${channel.readyCount}`));
    channel.on('ready-sent', () => order.push('ready'));
    const cb = new Promise<void>((resolve) => binding.listen(server, [3000, '127.0.0.1', () => resolve()]));
    await cb;
    await new Promise((r) => setImmediate(r));
    expect(order).toEqual(['listening ready=0', 'ready']);
    expect(server.listening).toBe(true);
    expect(server.address()).toEqual({ address: '127.0.0.1', family: 'IPv4', port: 3000 });
    expect(channel.readyCount).toBe(1);
  });

  it('parses the argument forms of listen()', () => {
    const cb = (): void => undefined;
    expect(parseListenArgs([8080])).toEqual({ port: 8080 });
    expect(parseListenArgs(['8080', 'localhost', 511, cb])).toEqual({ port: 8080, host: 'localhost', callback: cb });
    expect(parseListenArgs([{ port: 0, host: '::' }, cb])).toEqual({ port: 0, host: '::', callback: cb });
    expect(parseListenArgs(['/run/app.sock'])).toEqual({ path: '/run/app.sock' });
    expect(parseListenArgs([cb])).toEqual({ callback: cb });
  });

  it('gives requests to the first listening server; a second server takes over when the first closes', async () => {
    const channel = new FakeAppChannel();
    const binding = new ChannelBinding(channel, { exit: () => undefined });
    const a = http.createServer((_q, r) => r.end('a'));
    const b = http.createServer((_q, r) => r.end('b'));
    binding.listen(a, [1]);
    binding.listen(b, [2]);
    await Promise.all([once(a, 'listening'), once(b, 'listening')]);
    await new Promise((resolve) => setImmediate(resolve));
    expect(channel.readyCount).toBe(1);
    const first = channel.request();
    await first.finished();
    expect(first.body().toString()).toBe('a');
    await new Promise<void>((resolve) => a.close(() => resolve()));
    const second = channel.request();
    await second.finished();
    expect(second.body().toString()).toBe('b');
    expect(channel.closed).toBe(false);
    await new Promise<void>((resolve) => b.close(() => resolve()));
    expect(channel.closed).toBe(true);
    expect(channel.request().aborted).toBe(true);
  });

  it('reports a unix socket path as the address and rejects a second listen', async () => {
    const h = await serve(() => undefined, ['/run/x.sock']);
    expect(h.server.address()).toBe('/run/x.sock');
    expect(() => h.binding.listen(h.server, [1])).toThrow(/more than once/);
  });
});

describe('IncomingMessage from the channel', () => {
  it('carries method, url, version, headers, rawHeaders and the client address', async () => {
    let seen: Record<string, unknown> = {};
    const h = await serve((req, res) => {
      seen = {
        isIncoming: req instanceof http.IncomingMessage,
        method: req.method,
        url: req.url,
        httpVersion: req.httpVersion,
        major: req.httpVersionMajor,
        headers: req.headers,
        rawHeaders: req.rawHeaders,
        remote: [req.socket.remoteAddress, req.socket.remotePort],
        encrypted: (req.socket as unknown as { encrypted?: boolean }).encrypted,
      };
      res.end('ok');
    });
    const r = h.channel.request({
      method: 'PUT',
      target: '/a/b?c=d',
      headers: ['Host', 'ex.test', 'X-Multi', '1', 'x-multi', '2', 'Cookie', 'a=1', 'cookie', 'b=2'],
      remoteAddress: '2001:db8::1',
      remotePort: 5555,
      tls: true,
    });
    r.emit('end');
    await r.finished();
    expect(seen).toEqual({
      isIncoming: true,
      method: 'PUT',
      url: '/a/b?c=d',
      httpVersion: '1.1',
      major: 1,
      headers: { host: 'ex.test', 'x-multi': '1, 2', cookie: 'a=1; b=2' },
      rawHeaders: ['Host', 'ex.test', 'X-Multi', '1', 'x-multi', '2', 'Cookie', 'a=1', 'cookie', 'b=2'],
      remote: ['2001:db8::1', 5555],
      encrypted: true,
    });
  });

  it('streams a large body with back-pressure: pauses the channel while the app does not read', async () => {
    let req!: http.IncomingMessage;
    const gotReq = new Promise<void>((resolve) => {
      void serve((rq, res) => {
        req = rq;
        resolve();
        rq.on('end', () => res.end());
      }).then((h) => {
        harness = h;
        resolve();
      });
    });
    let harness!: Harness;
    await gotReq;
    await new Promise((r) => setImmediate(r));
    const r = harness.channel.request({ method: 'POST', contentLength: 1 << 20 });
    const body = Buffer.alloc(1 << 20);
    for (let i = 0; i < body.length; i++) body[i] = (i * 31) & 0xff;
    const chunks: Buffer[] = [];
    for (let off = 0; off < body.length; off += 16384) chunks.push(body.subarray(off, off + 16384));
    const sending = r.sendBody(chunks);
    // The app has not read yet: the readable buffer fills and the channel stream is paused.
    await new Promise((resolve) => setImmediate(resolve));
    expect(r.paused).toBe(true);
    const hash = createHash('sha256');
    req.on('data', (c: Buffer) => hash.update(c));
    await sending;
    await r.finished();
    expect(hash.digest('hex')).toBe(createHash('sha256').update(body).digest('hex'));
    expect(r.status).toBe(200);
  });
});

describe('ServerResponse over the channel', () => {
  it('sends status and headers through respond(), not as HTTP text, and the body through write/end', async () => {
    const h = await serve((req, res) => {
      res.statusCode = 201;
      res.setHeader('Content-Type', 'text/plain');
      res.setHeader('Set-Cookie', ['a=1', 'b=2']);
      expect(res.getHeader('content-type')).toBe('text/plain');
      res.removeHeader('X-None');
      res.write('hello ');
      res.end('world');
    });
    const r = h.channel.request();
    await r.finished();
    expect(r.status).toBe(201);
    const headers = r.responseHeaders!;
    expect(headers.slice(0, 6)).toEqual(['Content-Type', 'text/plain', 'Set-Cookie', 'a=1', 'Set-Cookie', 'b=2']);
    expect(r.header('date')).toMatch(/GMT$/);
    expect(r.header('transfer-encoding')).toBeUndefined();
    expect(r.header('connection')).toBeUndefined();
    expect(r.body().toString()).toBe('hello world');
    expect(r.log[0]).toBe('respond');
    expect(r.log[r.log.length - 1]).toBe('end');
  });

  it("sends the app's own reason phrase, and none for the standard one", async () => {
    const h = await serve((req, res) => {
      if (req.url === '/custom') res.writeHead(299, 'Custom Reason').end();
      else if (req.url === '/message') {
        res.statusMessage = 'Fine';
        res.end();
      } else res.writeHead(404).end();
    });
    const reasons: unknown[] = [];
    for (const url of ['/custom', '/message', '/standard']) {
      const r = h.channel.request({ target: url });
      await r.finished();
      reasons.push(r.reason);
    }
    expect(reasons).toEqual(['Custom Reason', 'Fine', undefined]);
  });

  it("passes the app's Connection header to the router (which closes the client connection on close)", async () => {
    const h = await serve((_req, res) => {
      res.setHeader('Connection', 'close');
      res.end('bye');
    });
    const r = h.channel.request();
    await r.finished();
    expect(r.header('connection')).toBe('close');
  });

  it('adds Content-Length for a body given whole to end(), and 0 for an empty end()', async () => {
    const h = await serve((req, res) => {
      if (req.url === '/empty') res.end();
      else res.end('12345');
    });
    const a = h.channel.request({ target: '/x' });
    const b = h.channel.request({ target: '/empty' });
    await Promise.all([a.finished(), b.finished()]);
    expect(a.header('content-length')).toBe('5');
    expect(b.header('content-length')).toBe('0');
    expect(b.body().length).toBe(0);
  });

  it('takes writeHead with an object, a flat array and merges setHeader values', async () => {
    const h = await serve((req, res) => {
      if (req.url === '/obj') {
        res.setHeader('X-A', 'a');
        res.writeHead(404, 'Nope', { 'X-B': 'b' }).end();
      } else {
        res.writeHead(302, ['Location', '/there', 'X-C', 'c']);
        res.end();
      }
    });
    const a = h.channel.request({ target: '/obj' });
    const b = h.channel.request({ target: '/flat' });
    await Promise.all([a.finished(), b.finished()]);
    expect(a.status).toBe(404);
    expect(a.header('x-a')).toBe('a');
    expect(a.header('x-b')).toBe('b');
    expect(b.status).toBe(302);
    expect(b.responseHeaders!.slice(0, 4)).toEqual(['Location', '/there', 'X-C', 'c']);
  });

  it('rejects invalid header values like Node does', async () => {
    let error: unknown;
    const h = await serve((req, res) => {
      try {
        res.writeHead(200, { 'X-Bad': 'a\r\nb' });
      } catch (err) {
        error = err;
      }
      res.end();
    });
    await h.channel.request().finished();
    expect((error as { code: string }).code).toBe('ERR_INVALID_CHAR');
  });

  it('sends headers at flushHeaders and streams each write before the handler ends', async () => {
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    const h = await serve(async (req, res) => {
      res.setHeader('Content-Type', 'text/event-stream');
      res.flushHeaders();
      res.write('first\n');
      await released;
      res.end('last\n');
    });
    const r = h.channel.request();
    await once(r, 'wrote');
    expect(r.status).toBe(200);
    expect(r.body().toString()).toBe('first\n');
    expect(r.ended).toBe(false);
    expect(r.header('content-length')).toBeUndefined();
    release();
    await r.finished();
    expect(r.body().toString()).toBe('first\nlast\n');
  });

  it('returns false from write when the channel is full and emits drain when it has room', async () => {
    let res!: http.ServerResponse;
    const h = await serve((_req, rs) => {
      res = rs;
    });
    const r = h.channel.request();
    r.capacity = 10;
    await new Promise((resolve) => setImmediate(resolve));
    expect(res.write(Buffer.alloc(64 * 1024))).toBe(false);
    expect(res.writableNeedDrain).toBe(true);
    await once(r, 'wrote');
    const drained = once(res, 'drain');
    r.drain();
    await drained;
    expect(res.writableNeedDrain).toBe(false);
    res.end();
    await r.finished();
    expect(r.body().length).toBe(64 * 1024);
  });

  it('pipes a readable into the response and emits finish and close', async () => {
    const events: string[] = [];
    const h = await serve((req, res) => {
      res.on('finish', () => events.push('finish'));
      res.on('close', () => events.push('close'));
      req.on('close', () => events.push('req-close'));
      Readable.from([Buffer.from('a'), Buffer.from('b'), Buffer.from('c')]).pipe(res);
    });
    const r = h.channel.request();
    r.emit('end');
    await r.finished();
    await new Promise((resolve) => setImmediate(resolve));
    expect(r.body().toString()).toBe('abc');
    expect(events).toEqual(expect.arrayContaining(['finish', 'close', 'req-close']));
    expect(events.indexOf('finish')).toBeLessThan(events.indexOf('close'));
  });

  it('sends no body for HEAD, 204 and 304', async () => {
    const h = await serve((req, res) => {
      if (req.url === '/204') res.statusCode = 204;
      res.end('body');
    });
    const head = h.channel.request({ method: 'HEAD' });
    const noContent = h.channel.request({ target: '/204' });
    await Promise.all([head.finished(), noContent.finished()]);
    expect(head.body().length).toBe(0);
    expect(noContent.status).toBe(204);
    expect(noContent.body().length).toBe(0);
  });

  it('keeps working when express-style code replaces the prototypes of req and res', async () => {
    const reqProto = Object.create(http.IncomingMessage.prototype, { hello: { value: () => 'hi' } });
    const resProto = Object.create(http.ServerResponse.prototype, {
      send: {
        value(this: http.ServerResponse, body: string) {
          this.setHeader('Content-Type', 'text/html');
          this.end(body);
        },
      },
    });
    const h = await serve((req, res) => {
      Object.setPrototypeOf(req, reqProto);
      Object.setPrototypeOf(res, resProto);
      (res as unknown as { send(b: string): void }).send((req as unknown as { hello(): string }).hello());
    });
    const r = h.channel.request();
    await r.finished();
    expect(r.header('content-type')).toBe('text/html');
    expect(r.body().toString()).toBe('hi');
    expect(r.header('content-length')).toBe('2');
  });

  it('unread request bodies are drained after the response so the stream completes', async () => {
    let req!: http.IncomingMessage;
    const h = await serve((rq, res) => {
      req = rq;
      res.end('early');
    });
    const r = h.channel.request({ method: 'POST', contentLength: 200000 });
    await r.finished();
    const chunks = Array.from({ length: 20 }, () => Buffer.alloc(10000));
    await r.sendBody(chunks);
    if (!req.readableEnded) await once(req, 'end');
    expect(req.complete).toBe(true);
  });
});

describe('aborts, errors and shutdown', () => {
  it('client abort gives req aborted+close and res close', async () => {
    const events: string[] = [];
    let arrived!: () => void;
    const inHandler = new Promise<void>((r) => (arrived = r));
    const h = await serve((req, res) => {
      req.on('aborted', () => events.push('aborted'));
      req.on('close', () => events.push('req-close'));
      res.on('close', () => events.push('res-close'));
      req.on('error', () => events.push('req-error'));
      arrived();
    });
    const r = h.channel.request({ method: 'POST', contentLength: 100 });
    await inHandler;
    r.emit('data', Buffer.alloc(10));
    r.emit('abort');
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(events).toEqual(expect.arrayContaining(['aborted', 'req-close', 'res-close']));
    expect(r.aborted).toBe(false);
    expect(h.binding.activeRequests).toBe(0);
  });

  it('res.destroy() by the app resets the stream (the router resets the client connection, no 502)', async () => {
    const h = await serve((_req, res) => res.destroy(new Error('boom')));
    const r = h.channel.request();
    await r.finished();
    expect(r.aborted).toBe(true);
    expect(r.reset).toBe(true);
    expect(r.status).toBeNull();
  });

  it('res.setTimeout fires its callback; with no listener anywhere the timeout resets the stream, as node:http does', async () => {
    const h = await serve((req, res) => {
      if (req.url === '/listened') res.setTimeout(5, () => res.end('late'));
      else req.socket.setTimeout(5);
    });
    const listened = h.channel.request({ target: '/listened' });
    await listened.finished();
    expect(listened.body().toString()).toBe('late');
    const unheard = h.channel.request({ target: '/unheard' });
    await unheard.finished();
    expect(unheard.reset).toBe(true);
  });

  it('a handler that throws fails its request and the exception stays uncaught', async () => {
    const h = await serve(() => {
      throw new Error('handler bug');
    });
    const r = h.channel.request();
    await r.finished();
    expect(r.aborted).toBe(true);
    expect(r.reset).toBe(false);
    expect((h.thrown[0] as Error).message).toBe('handler bug');
  });

  it('on shutdown finishes in-flight requests, refuses new ones, emits close, closes the channel and exits 0', async () => {
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    const h = await serve(async (_req, res) => {
      await released;
      res.end('done');
    });
    const inflight = h.channel.request();
    await new Promise((resolve) => setImmediate(resolve));
    const closed = once(h.server, 'close');
    h.channel.emit('shutdown');
    const late = h.channel.request();
    expect(late.aborted).toBe(true);
    expect(h.channel.closed).toBe(false);
    release();
    await inflight.finished();
    await closed;
    await new Promise((resolve) => setImmediate(resolve));
    expect(inflight.body().toString()).toBe('done');
    expect(h.channel.closed).toBe(true);
    expect(h.exits).toEqual([0]);
  });

  it('server.close() by the app waits for in-flight requests, then releases the channel', async () => {
    let res!: http.ServerResponse;
    const h = await serve((_req, rs) => {
      res = rs;
    });
    const r = h.channel.request();
    await new Promise((resolve) => setImmediate(resolve));
    const closed = new Promise<void>((resolve) => h.server.close(() => resolve()));
    expect(h.server.listening).toBe(false);
    expect(h.channel.closed).toBe(false);
    res.end('bye');
    await closed;
    await r.finished();
    expect(h.channel.closed).toBe(true);
    expect(h.exits).toEqual([]);
  });

  it('when the channel closes under it, in-flight requests are aborted and the process exits', async () => {
    const events: string[] = [];
    const h = await serve((req, res) => {
      res.on('close', () => events.push('res-close'));
    });
    h.channel.request();
    await new Promise((resolve) => setImmediate(resolve));
    h.channel.emit('close', new Error('peer died'));
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(events).toEqual(['res-close']);
    expect(h.exits).toEqual([1]);
  });
});
