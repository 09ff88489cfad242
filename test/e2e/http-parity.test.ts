import { spawn, type ChildProcess } from 'child_process';
import { join } from 'path';
import { exchange, normalise, sendBoth, stopBoth, responses, type Seen } from './support/parity';
import { ROOT, freePort, startWardend, worldDir, type Wardend } from './support/wardend';

const APP_DIR = join(ROOT, 'test/e2e/apps/parity');

describe('the same Node app, directly and through wardend', () => {
  let dir: string;
  let w: Wardend;
  let direct: ChildProcess;
  let directPort: number;
  let wardenPort: number;

  beforeAll(async () => {
    dir = worldDir('warden-parity-');
    directPort = await freePort();
    direct = spawn(process.execPath, ['app.js'], { cwd: APP_DIR, env: { ...process.env, PORT: String(directPort) }, stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((ok, fail) => {
      let out = '';
      direct.stdout!.on('data', (d) => {
        out += d;
        if (out.includes('listening')) ok();
      });
      direct.once('exit', (code) => fail(new Error(`direct app exited with ${code}`)));
    });
    w = await startWardend([], dir);
    wardenPort = await freePort();
    const res = await w.control('PUT', '/config', {
      listeners: { [`127.0.0.1:${wardenPort}`]: { pass: 'applications/parity' } },
      applications: { parity: { type: 'node', working_directory: APP_DIR, script: 'app.js', processes: 1 } },
    });
    expect(res.status).toBe(200);
  });
  afterAll(() => stopBoth(direct, w, dir));

  const both = (data: string, until?: (t: string) => boolean): Promise<[Seen, Seen]> => sendBoth(directPort, wardenPort, data, until);

  it("honours the app's Connection: close: same response, connection closed, the next pipelined request unanswered", async () => {
    const [d, w] = await both('GET /close HTTP/1.1\r\nHost: x\r\n\r\nGET /other HTTP/1.1\r\nHost: x\r\n\r\n', responses(2));
    expect(d.end).toBe('closed');
    expect(d.text).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(d.text).not.toMatch(/ok\n$/);
    expect(normalise(w.text)).toBe(normalise(d.text));
    expect(w.end).toBe('closed');
  });

  it('resets the client connection when the app destroys the response before any output, as directly (no 502)', async () => {
    const [d, w] = await both('GET /destroy HTTP/1.1\r\nHost: x\r\n\r\n', responses(1));
    expect(d).toEqual({ text: '', end: expect.stringMatching(/closed|error/) });
    expect(w).toEqual({ text: '', end: expect.stringMatching(/closed|error/) });
  });

  it('resets the client connection on res.destroy() on the node:http path too (a request the lean parser hands over)', async () => {
    // An absolute-form target with a body of unknown length goes through node:http in wardend.
    const [d, w] = await both('POST /destroy HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', responses(1));
    expect(d).toEqual({ text: '', end: expect.stringMatching(/closed|error/) });
    expect(w).toEqual({ text: '', end: expect.stringMatching(/closed|error/) });
  });

  it('keeps a custom reason phrase (lean path and node:http path)', async () => {
    for (const req of ['GET /reason HTTP/1.1\r\nHost: x\r\n\r\n', 'POST /reason HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n']) {
      const [d, w] = await both(req, responses(1));
      expect(d.text).toMatch(/^HTTP\/1\.1 299 Custom Reason\r\n/);
      expect(normalise(w.text)).toBe(normalise(d.text));
    }
  });

  it('res.setTimeout fires its callback after the idle time, as directly', async () => {
    const [d, w] = await both('GET /res-timeout HTTP/1.1\r\nHost: x\r\n\r\n', responses(1));
    expect(d.text).toMatch(/res timeout fired\n/);
    expect(normalise(w.text)).toBe(normalise(d.text));
  });

  it('req.setTimeout fires while the request body is incomplete; on a complete GET nobody listens and the connection is reset, as directly', async () => {
    const [d, w] = await both('POST /req-timeout HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n12345', responses(1));
    expect(d.text).toMatch(/req timeout fired\n/);
    expect(normalise(w.text)).toBe(normalise(d.text));
    const [dg, wg] = await both('GET /req-timeout HTTP/1.1\r\nHost: x\r\n\r\n', responses(1));
    expect(dg).toEqual({ text: '', end: expect.stringMatching(/closed|error/) });
    expect(wg).toEqual({ text: '', end: expect.stringMatching(/closed|error/) });
  });

  it("sends the app's trailers after the chunked body, as directly (lean path and node:http path)", async () => {
    for (const req of ['GET /trailers HTTP/1.1\r\nHost: x\r\n\r\n', 'POST /trailers HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n']) {
      const [d, w] = await both(req, (t) => /\r\n0\r\n(.+\r\n)*\r\n$/.test(t));
      expect(d.text).toMatch(/\r\n0\r\nX-Checksum: abc123\r\nServer-Timing: db;dur=53\r\n\r\n$/);
      expect(normalise(w.text)).toBe(normalise(d.text));
      expect(w.text.slice(w.text.indexOf('\r\n\r\n'))).toBe(d.text.slice(d.text.indexOf('\r\n\r\n')));
    }
  });

  it('sends res.writeEarlyHints as a 103 before the response, as directly (lean path and node:http path)', async () => {
    for (const req of ['GET /hints HTTP/1.1\r\nHost: x\r\n\r\n', 'POST /hints HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n']) {
      const [d, w] = await both(req, (t) => t.includes('after hints\n'));
      expect(d.text).toMatch(
        /^HTTP\/1\.1 103 Early Hints\r\nLink: <\/a\.css>; rel=preload; as=style, <\/b\.js>; rel=preload; as=script\r\nx-hint: yes\r\n\r\nHTTP\/1\.1 200 OK\r\n/,
      );
      expect(w.text.slice(0, w.text.indexOf('\r\n\r\n') + 4)).toBe(d.text.slice(0, d.text.indexOf('\r\n\r\n') + 4));
      expect(normalise(w.text)).toBe(normalise(d.text));
    }
  });

  it("gives the requests of one keep-alive connection one socket, emits 'connection' once and the socket's 'close' when the client closes, as directly (lean path and node:http path)", async () => {
    const get = 'GET /socket HTTP/1.1\r\nHost: x\r\n\r\n';
    const post = 'POST /socket HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n';
    const bodies = (t: string) =>
      t
        .split(/HTTP\/1\.1 200 OK\r\n/)
        .slice(1)
        .map((r) => JSON.parse(r.slice(r.indexOf('\r\n\r\n') + 4, r.lastIndexOf('}') + 1)));
    for (const port of [directPort, wardenPort]) {
      const seen = await exchange(port, get + get + post, responses(3));
      const [a, b, c] = bodies(seen.text);
      // One socket for the three requests, announced once.
      expect([b.socket, c.socket]).toEqual([a.socket, a.socket]);
      expect([b.connections, c.connections]).toEqual([a.connections, a.connections]);
      // The client closed that connection (exchange() destroys it): a later connection sees one more 'close'.
      let later = a;
      for (let i = 0; i < 50 && later.closed <= a.closed; i++) later = bodies((await exchange(port, get, responses(1))).text)[0];
      expect(later.closed).toBeGreaterThan(a.closed);
      expect(later.socket).not.toBe(a.socket);
      expect(later.connections).toBeGreaterThan(a.connections);
    }
  });

  it('req.socket carries the connection facts node:http gives (addresses, ports, bytes, readyState)', async () => {
    const [d, w] = await both('GET /socket HTTP/1.1\r\nHost: x\r\n\r\n', responses(1));
    const body = (t: string) => {
      const j = JSON.parse(t.slice(t.indexOf('\r\n\r\n') + 4));
      delete j.socket;
      delete j.connections;
      delete j.closed;
      return j;
    };
    expect(body(d.text)).toEqual({
      remoteAddress: '127.0.0.1',
      remotePortIsNumber: true,
      localAddress: '127.0.0.1',
      localPortIsNumber: true,
      bytesReadIsNumber: true,
      bytesWrittenIsNumber: true,
      readyState: 'open',
      encrypted: null,
      sameSocketAsResponse: true,
    });
    expect(body(w.text)).toEqual(body(d.text));
  });
});
