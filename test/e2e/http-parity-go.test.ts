import { spawn, type ChildProcess } from 'child_process';
import { join } from 'path';
import { exchange, normalise, sendBoth, stopBoth, type Seen } from './support/parity';
import { ROOT, freePort, goBuild, haveGo, startWardend, worldDir, type Wardend } from './support/wardend';

const describeGo = haveGo() ? describe : describe.skip;
if (!haveGo()) console.warn('http-parity-go e2e skipped: `go` is not installed (scripts/setup.sh installs golang-go)');

// The same Go net/http app (test/e2e/apps/echo) served by net/http itself and by wardend (the warden package serves it
// over the channel): the bytes a client gets must be the same, on the lean path (GET) and the node:http path (a
// chunked request body). The Go package does not ask for connection ids: it is also the app without that capability.
describeGo('the same Go app, directly and through wardend', () => {
  let dir: string;
  let w: Wardend;
  let direct: ChildProcess;
  let directPort: number;
  let wardenPort: number;

  beforeAll(async () => {
    dir = worldDir('warden-parity-go-');
    const bin = goBuild(join(ROOT, 'test/e2e/apps/echo'), join(dir, 'echo'));
    directPort = await freePort();
    direct = spawn(bin, [`127.0.0.1:${directPort}`], { stdio: 'ignore' });
    // Ready when it answers (net/http has no readiness line).
    for (let i = 0; i < 200; i++) {
      const s = await exchange(directPort, 'GET /pid HTTP/1.1\r\nHost: x\r\n\r\n', (t) => /\r\n\r\n\d+$/.test(t));
      if (s.text.startsWith('HTTP/1.1 200')) break;
      await new Promise((r) => setTimeout(r, 25)); // retry interval while the process starts, not a synchronisation
    }
    w = await startWardend([], dir);
    wardenPort = await freePort();
    const res = await w.control('PUT', '/config', {
      listeners: { [`127.0.0.1:${wardenPort}`]: { pass: 'applications/echo' } },
      applications: { echo: { type: 'external', executable: bin, processes: 1 } },
    });
    expect(res.status).toBe(200);
  });
  afterAll(() => stopBoth(direct, w, dir));

  const both = (data: string, until?: (t: string) => boolean): Promise<[Seen, Seen]> => sendBoth(directPort, wardenPort, data, until);
  // wardend frames every keep-alive response as node:http does (Connection: keep-alive), net/http says nothing.
  const same = (t: string) => normalise(t).replace(/\r\nconnection: keep-alive(?=\r\n)/, '');
  const requests = (path: string) => [
    `GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`,
    `POST ${path} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`,
  ];

  it('sends the Trailer-declared and TrailerPrefix trailers after the chunked body, as net/http (lean path and node:http path)', async () => {
    for (const req of requests('/trailers')) {
      const [d, w] = await both(req, (t) => /\r\n0\r\n(.+\r\n)*\r\n$/.test(t));
      expect(d.text).toMatch(/\r\n0\r\nServer-Timing: db;dur=53\r\nX-Checksum: abc123\r\n\r\n$/);
      expect(same(w.text)).toBe(same(d.text));
      expect(w.text.slice(w.text.indexOf('\r\n\r\n'))).toBe(d.text.slice(d.text.indexOf('\r\n\r\n')));
    }
  });

  it('sends WriteHeader(103) as a 103 before the response, as net/http (lean path and node:http path)', async () => {
    for (const req of requests('/hints')) {
      const [d, w] = await both(req, (t) => t.includes('after hints\n'));
      expect(d.text).toMatch(/^HTTP\/1\.1 103 Early Hints\r\nLink: <\/a\.css>; rel=preload; as=style\r\n\r\nHTTP\/1\.1 200 OK\r\n/);
      expect(w.text.slice(0, w.text.indexOf('\r\n\r\n') + 4)).toBe(d.text.slice(0, d.text.indexOf('\r\n\r\n') + 4));
      expect(same(w.text)).toBe(same(d.text));
    }
  });

  it('drops the client connection without a response on panic(http.ErrAbortHandler), as net/http (no 502)', async () => {
    for (const req of requests('/abort-handler')) {
      const [d, w] = await both(req);
      expect(d).toEqual({ text: '', end: expect.stringMatching(/closed|error/) });
      expect(w).toEqual({ text: '', end: expect.stringMatching(/closed|error/) });
    }
  });

  it('keeps serving keep-alive connections of an app that did not ask for connection ids after they close', async () => {
    for (let i = 0; i < 3; i++) {
      const s = await exchange(
        wardenPort,
        'GET /pid HTTP/1.1\r\nHost: x\r\n\r\nGET /pid HTTP/1.1\r\nHost: x\r\n\r\n',
        (t) => (t.match(/HTTP\/1\.1 200 OK/g) ?? []).length === 2 && /\r\n\r\n\d+$/.test(t),
      );
      expect(s.end).toBe('open');
    }
  });
});
