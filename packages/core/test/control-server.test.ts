import { mkdtempSync, rmSync, statSync, writeFileSync } from 'fs';
import { spawnSync } from 'child_process';
import { createConnection } from 'net';
import { tmpdir } from 'os';
import { join } from 'path';
import pino from 'pino';
import { WardenError } from '../src/contracts';
import type { ConfigComponent } from '../src/contracts';
import { ControlServer, parseControlAddress } from '../src/control/control-server';
import { harness } from './harness';
import { controlRequest } from './process-helpers';

const silent = pino({ level: 'silent' });

describe('control server (HTTP on a unix socket)', () => {
  let dir: string;
  let servers: ControlServer[];
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'warden-ctl-'));
    servers = [];
  });
  afterEach(async () => {
    for (const s of servers) await s.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function serve(options = {}, path = join(dir, 'c.sock')) {
    const h = harness();
    const s = new ControlServer(h.api, silent, options);
    servers.push(s);
    await s.listen({ kind: 'unix', path });
    return { h, s, control: `unix:${path}`, path };
  }

  it("serves the API with Unit's framing: tab-indented JSON, application/json, Connection: close", async () => {
    const { control } = await serve();
    const r = await controlRequest(control, 'PUT', '/config/', '{"listeners": {}}');
    expect(r.status).toBe(200);
    expect(r.text).toBe('{\n\t"success": "Reconfiguration done."\n}\n');
    expect(r.headers['content-type']).toBe('application/json');
    expect(r.headers.connection).toBe('close');
    expect((await controlRequest(control, 'GET', '/config/listeners')).json).toEqual({});
    expect((await controlRequest(control, 'GET', '/config/nope')).status).toBe(404);
  });

  it('creates the socket 0600 by default and applies --control-mode and --control-group', async () => {
    const { path } = await serve();
    expect(statSync(path).mode & 0o777).toBe(0o600);
    const gid = process.getegid!();
    const other = await serve({ mode: 0o660, group: String(gid) }, join(dir, 'd.sock'));
    expect(statSync(other.path).mode & 0o777).toBe(0o660);
    expect(statSync(other.path).gid).toBe(gid);
    if (process.getuid!() === 0) {
      // chown to a named user needs root; unprivileged runs check the numeric group above only.
      const byName = await serve({ user: 'root', group: 'root' }, join(dir, 'e.sock'));
      expect(statSync(byName.path)).toMatchObject({ uid: 0, gid: 0 });
    }
  });

  it('an unknown --control-group is a clear start-up error', async () => {
    await expect(serve({ group: 'no-such-group-x' }, join(dir, 'f.sock'))).rejects.toThrow(/no-such-group-x/);
  });

  it('removes a stale socket file and the socket on close', async () => {
    const path = join(dir, 'stale.sock');
    // A crashed daemon: a process binds the socket and is SIGKILLed, so the file remains with nobody accepting.
    spawnSync(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(path)}, () => process.kill(process.pid, 'SIGKILL'))`]);
    expect(statSync(path).isSocket()).toBe(true);
    const { s } = await serve({}, path);
    expect(statSync(path).isSocket()).toBe(true);
    await s.close();
    expect(() => statSync(path)).toThrow();
  });

  it('refuses a socket another process is serving, and a path that is not a socket', async () => {
    const { path } = await serve();
    await expect(serve({}, path)).rejects.toThrow(/WARDEN_ERR_CONTROL_IN_USE|already serving/);
    const file = join(dir, 'plain');
    writeFileSync(file, 'x');
    await expect(serve({}, file)).rejects.toThrow(/is not a socket/);
  });

  it('answers a client that shuts down its write side after sending the request (half-close)', async () => {
    // The apply outlasts the client's FIN, as a real apply (validate, start apps, fsync) does: it finishes only once
    // the client has shut down its write side and the server has had time to see it.
    let halfClosed!: () => void;
    const finSent = new Promise<void>((resolve) => (halfClosed = resolve));
    const slowComponent: ConfigComponent = {
      name: 'slow',
      order: 1,
      prepare: async () => {
        await finSent;
        await new Promise((r) => setTimeout(r, 100));
        return { commit: async () => undefined, rollback: async () => undefined };
      },
      shutdown: async () => undefined,
    };
    const h = harness({ components: [slowComponent] });
    const path = join(dir, 'hc.sock');
    const s = new ControlServer(h.api, silent, {});
    servers.push(s);
    await s.listen({ kind: 'unix', path });
    const body = '{"listeners": {}}';
    const answer = await new Promise<string>((resolve, reject) => {
      const c = createConnection(path, () => {
        c.write(`PUT /config HTTP/1.1\r\nHost: localhost\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
        c.end(halfClosed); // shutdown(SHUT_WR): the request is complete, the client still reads
      });
      let text = '';
      c.setEncoding('utf8');
      c.on('data', (d: string) => (text += d));
      c.on('close', () => resolve(text));
      c.on('error', reject);
    });
    expect(answer).toMatch(/^HTTP\/1\.1 200 /);
    expect(answer).toContain('"success": "Reconfiguration done."');
    expect(h.controller.config).toEqual({ listeners: {} });
  });

  it('runs one request per connection, as Unit: a change pipelined after the first request is not applied', async () => {
    const { path, h } = await serve();
    const put = '{"listeners": {}}';
    const answer = await new Promise<string>((resolve, reject) => {
      const c = createConnection(path, () =>
        c.write(`GET /config HTTP/1.1\r\nHost: x\r\n\r\nPUT /config HTTP/1.1\r\nHost: x\r\nContent-Length: ${put.length}\r\n\r\n${put}`),
      );
      let text = '';
      c.on('data', (d: Buffer) => (text += d.toString('latin1')));
      c.on('close', () => resolve(text));
      c.on('error', reject);
    });
    expect(answer).toMatch(/^HTTP\/1\.1 200 /);
    await new Promise((r) => setTimeout(r, 100));
    expect(h.controller.config).toEqual({});
  });

  it('rejects bodies above the limit with a 413 the client gets: by Content-Length, with Expect: 100-continue, chunked', async () => {
    // curl sends `Expect: 100-continue` for bodies over 1 MiB: node:http answered 100 by itself, the 413 came while
    // curl was sending, and the socket was destroyed under it (curl: "Send failure: Broken pipe", no answer).
    const { path, h } = await serve({ maxBodySize: 1024 });
    const big = 'x'.repeat(200_000);
    const heads = [
      `PUT /config HTTP/1.1\r\nHost: localhost\r\nContent-Length: ${big.length}\r\n\r\n`,
      `PUT /config HTTP/1.1\r\nHost: localhost\r\nContent-Length: ${big.length}\r\nExpect: 100-continue\r\n\r\n`,
      `PUT /config HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n`,
    ];
    for (const head of heads) {
      const answer = await new Promise<string>((resolve, reject) => {
        const c = createConnection(path, () => {
          c.write(head);
          const expect = head.includes('Expect');
          // As curl: with Expect, the body only after a 100 (or never, after a final answer); else all of it at once.
          const sendBody = () => (head.includes('chunked') ? c.end(`${big.length.toString(16)}\r\n${big}\r\n0\r\n\r\n`) : c.end(big));
          if (!expect) sendBody();
          let sent = !expect;
          c.on('data', (d: Buffer) => {
            if (!sent && d.toString('latin1').startsWith('HTTP/1.1 100')) {
              sent = true;
              sendBody();
            }
          });
        });
        let text = '';
        c.on('data', (d: Buffer) => (text += d.toString('latin1')));
        c.on('close', () => resolve(text));
        c.on('error', (e: NodeJS.ErrnoException) => (e.code === 'EPIPE' || e.code === 'ECONNRESET' ? resolve(`${text}[${e.code}]`) : reject(e)));
      });
      expect([head.split('\r\n').slice(2).join(' '), answer.replace(/^HTTP\/1\.1 100 Continue\r\n\r\n/, '').slice(0, 12)]).toEqual([
        head.split('\r\n').slice(2).join(' '),
        'HTTP/1.1 413',
      ]);
      expect(answer).toContain('Request body is too large.');
      expect(answer).not.toMatch(/\[E/);
    }
    expect(h.controller.config).toEqual({});
  });
});

describe('parseControlAddress', () => {
  it.each([
    ['unix:/run/w.sock', { kind: 'unix', path: '/run/w.sock' }],
    ['/run/w.sock', { kind: 'unix', path: '/run/w.sock' }],
    ['127.0.0.1:8080', { kind: 'tcp', host: '127.0.0.1', port: 8080 }],
    ['[::1]:80', { kind: 'tcp', host: '::1', port: 80 }],
  ])('%s', (value, expected) => expect(parseControlAddress(value)).toEqual(expected));

  it.each(['unix:', '8080', 'host:99999', 'http://x', 'run/w.sock'])('rejects %s', (value) => {
    expect(() => parseControlAddress(value)).toThrow(WardenError);
  });
});
