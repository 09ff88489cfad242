import { createHash, randomBytes } from 'crypto';
import { Agent, request } from 'http';
import { connect, type Socket } from 'net';
import { join } from 'path';
import { ROOT, cleanup, freePort, goBuild, haveGo, http, startWardend, waitUntil, worldDir, type Wardend } from './support/wardend';

const describeGo = haveGo() ? describe : describe.skip;
if (!haveGo()) console.warn('lean-http e2e skipped: `go` is not installed (scripts/setup.sh installs golang-go)');

/** Raw bytes in, everything the server wrote until `ok(text)` holds (or it closed). */
function raw(port: number, data: string | Buffer, ok: (t: string) => boolean = () => false, halfClose = false): Promise<{ text: string; sock: Socket }> {
  return new Promise((resolve) => {
    const sock = connect(port, '127.0.0.1');
    let text = '';
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      resolve({ text, sock });
    };
    sock.on('data', (d) => {
      text += d.toString('latin1');
      if (ok(text)) finish();
    });
    sock.on('error', () => undefined);
    sock.on('close', finish);
    const bytes = typeof data === 'string' ? Buffer.from(data, 'latin1') : data;
    if (halfClose) sock.end(bytes);
    else sock.write(bytes);
  });
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** The lean HTTP/1.1 path of wardend's listeners (and its hand-off to node:http), against a real Go app. */
describeGo('lean HTTP/1.1 path through wardend', () => {
  let dir: string;
  let w: Wardend;
  let port: number;

  beforeAll(async () => {
    dir = worldDir('warden-lean-');
    const echo = goBuild(join(ROOT, 'test/e2e/apps/echo'), join(dir, 'echo'));
    w = await startWardend([], dir);
    port = await freePort();
    const res = await w.control('PUT', '/config', {
      listeners: { [`127.0.0.1:${port}`]: { pass: 'applications/echo' } },
      applications: { echo: { type: 'external', executable: echo, processes: 1 } },
      settings: { http: { max_body_size: 16 << 20 } },
    });
    expect(res.status).toBe(200);
  });
  afterAll(async () => {
    await w?.stop();
    cleanup(dir);
  });

  it('keeps a connection alive over many requests', async () => {
    const before = (await w.control('GET', '/status')).body;
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const pids = new Set<string>();
    for (let i = 0; i < 20; i++) {
      const r = await new Promise<string>((ok, fail) => {
        request({ host: '127.0.0.1', port, path: '/pid', agent }, (res) => {
          let t = '';
          res.on('data', (c) => (t += c));
          res.on('end', () => ok(t));
        })
          .on('error', fail)
          .end();
      });
      pids.add(r);
    }
    agent.destroy();
    expect(pids.size).toBe(1);
    const after = (await w.control('GET', '/status')).body;
    expect(after.connections.accepted - before.connections.accepted).toBe(1);
    expect(after.requests.total - before.requests.total).toBeGreaterThanOrEqual(20);
  });

  it('answers pipelined requests in order, with bodies, HEAD and a final Connection: close', async () => {
    const { text } = await raw(
      port,
      'GET /pid HTTP/1.1\r\nHost: x\r\n\r\n' +
        'POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\nhello world' +
        'HEAD /pid HTTP/1.1\r\nHost: x\r\n\r\n' +
        'GET /sleep?ms=50 HTTP/1.1\r\nHost: x\r\n\r\n' +
        'GET /pid HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
    );
    const statuses = text.match(/HTTP\/1\.1 200 OK/g) ?? [];
    expect(statuses).toHaveLength(5);
    const echoAt = text.indexOf('hello world');
    const sleptAt = text.indexOf('slept 50 ms');
    expect(echoAt).toBeGreaterThan(0);
    expect(sleptAt).toBeGreaterThan(echoAt);
    expect(text).toMatch(/Connection: close\r\n\r\n\d+$/);
    // The HEAD response (third) has no body: the fourth status line follows its empty line directly.
    const parts = text.split(/(?=HTTP\/1\.1 200 OK)/);
    expect(parts[2]).toMatch(/\r\n\r\n$/);
  });

  it('round-trips 1 MiB Content-Length bodies, also to a slow reader', async () => {
    const body = randomBytes(1 << 20);
    const fast = await http(port, '/echo', { method: 'POST', body });
    expect(sha(fast.body)).toBe(sha(body));
    const got = await new Promise<Buffer>((ok, fail) => {
      const req = request({ host: '127.0.0.1', port, path: '/echo', method: 'POST', headers: { 'Content-Length': body.length } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => {
          chunks.push(c);
          res.pause();
          setTimeout(() => res.resume(), 2); // a slow client
        });
        res.on('end', () => ok(Buffer.concat(chunks)));
      });
      req.on('error', fail);
      req.end(body);
    });
    expect(sha(got)).toBe(sha(body));
  });

  it('answers a client that half-closes after its request, then closes the connection (as Unit)', async () => {
    const { text } = await raw(port, 'GET /sleep?ms=100 HTTP/1.1\r\nHost: x\r\n\r\n', undefined, true);
    expect(text).toMatch(/^HTTP\/1\.1 200 OK\r\n[^]*\r\n\r\nslept 100 ms\n$/);
  });

  it('aborts the app stream when the client went away mid-response (the next write fails), and serves on', async () => {
    const { text, sock } = await raw(port, 'GET /slow?ms=1500 HTTP/1.1\r\nHost: x\r\n\r\n', (t) => t.includes('first\n'));
    expect(text).toMatch(/^HTTP\/1\.1 200 OK\r\n[^]*Transfer-Encoding: chunked\r\n/);
    expect((await w.control('GET', '/status')).body.connections.active).toBe(1);
    sock.destroy();
    await waitUntil(async () => (await w.control('GET', '/status')).body.connections.active === 0, 'the connection is no longer active');
    expect((await http(port, '/pid')).status).toBe(200);
  });

  it('hands chunked bodies and Expect: 100-continue to node:http; an absolute-form target is 400 as in Unit', async () => {
    const chunked = await raw(
      port,
      'POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n',
    );
    expect(chunked.text).toMatch(/^HTTP\/1\.1 200 OK[^]*hello world/);
    const expect100 = await raw(port, 'POST /echo HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc');
    expect(expect100.text).toMatch(/^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 200 OK[^]*abc/);
    const absolute = await raw(port, `GET http://127.0.0.1:${port}/pid HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
    expect(absolute.text).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
    // Lean first, then a hand-off on the same connection.
    const mixed = await raw(
      port,
      'GET /pid HTTP/1.1\r\nHost: x\r\n\r\nPOST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n2\r\nok\r\n0\r\n\r\n',
    );
    expect(mixed.text.match(/HTTP\/1\.1 200 OK/g)).toHaveLength(2);
    expect(mixed.text).toMatch(/ok(\r\n0\r\n\r\n)?$/);
  });

  it('HTTP/1.0: Connection: close by default, keep-alive when asked, and an HTTP/1.0 status line as net/http writes', async () => {
    const plain = await raw(port, 'GET /pid HTTP/1.0\r\n\r\n');
    expect(plain.text).toMatch(/^HTTP\/1\.0 200 OK\r\n[^]*Connection: close\r\n/);
    const ka = await raw(port, 'GET /pid HTTP/1.0\r\nConnection: keep-alive\r\n\r\n', (t) => /\r\n\r\n\d+$/.test(t));
    expect(ka.text).toContain('Connection: keep-alive\r\n');
    ka.sock.destroy();
  });

  it("writes net/http's reason phrases where they differ from the standard ones", async () => {
    const unknown = await raw(port, 'GET /status?code=299 HTTP/1.1\r\nHost: x\r\n\r\n', (t) => t.includes('\r\n\r\n'));
    expect(unknown.text).toMatch(/^HTTP\/1\.1 299 status code 299\r\n/);
    unknown.sock.destroy();
    const own = await raw(port, 'GET /status?code=413 HTTP/1.1\r\nHost: x\r\n\r\n', (t) => t.includes('\r\n\r\n'));
    expect(own.text).toMatch(/^HTTP\/1\.1 413 Request Entity Too Large\r\n/);
    own.sock.destroy();
  });

  it('413 over max_body_size and 400 for bad targets', async () => {
    expect((await raw(port, `POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: ${17 << 20}\r\n\r\n`)).text).toMatch(/^HTTP\/1\.1 413 /);
    expect((await raw(port, 'GET /a/%2e%2e/%2e%2e/x HTTP/1.1\r\nHost: x\r\n\r\n')).text).toMatch(/^HTTP\/1\.1 400 /);
  });

  it('survives malformed input and still serves', async () => {
    let seed = 11;
    const rnd = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff);
    const pieces = [
      'GET ',
      'POST ',
      '/echo',
      '/pid',
      '%',
      ' HTTP/1.1\r\n',
      ' HTTP/1.0\r\n',
      'Host: x\r\n',
      'Content-Length: 4\r\n',
      'Transfer-Encoding: chunked\r\n',
      '\r\n',
      '\n',
      '\0',
      '\xff',
      'x',
    ];
    await Promise.all(
      Array.from({ length: 40 }, () => {
        let s = '';
        const n = 1 + (rnd() % 12);
        for (let k = 0; k < n; k++) s += pieces[rnd() % pieces.length];
        return raw(port, s + '\r\n\r\n', () => false, true).then(({ sock }) => sock.destroy());
      }),
    );
    expect(w.proc.exitCode).toBeNull();
    expect((await http(port, '/pid')).status).toBe(200);
  });
});
