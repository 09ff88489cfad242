import { ChildProcess, spawn } from 'child_process';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { RouterChannel } from '../src';
import { buildGoHello, collect, exited, findGo, head, netIpcNamespaces, sendBody } from './helpers';

const go = findGo();
const describeGo = go ? describe : describe.skip;
if (!go) {
  console.warn('skipping Go cross-language tests: no `go` toolchain found (CI installs golang-go)');
}

describeGo('router end and the Go app (warden.ListenAndServe) in two processes', () => {
  let dir: string;
  let bin: string;
  let ch: RouterChannel;
  let child: ChildProcess;
  let stderr = '';

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'warden-go-'));
    bin = buildGoHello(go!, dir);
    ch = RouterChannel.create();
    child = spawn(bin, [], { stdio: ['ignore', 'pipe', 'pipe', ch.fds[0], ch.fds[1]], env: { ...process.env, ...ch.env() } });
    ch.closeChildFds();
    child.stderr!.on('data', (d) => (stderr += d));
    await ch.ready;
  }, 120000);

  afterAll(async () => {
    if (child && child.exitCode === null) {
      ch.shutdown();
      await exited(child);
    }
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('answers a GET through net/http with a sniffed Content-Type and a Content-Length', async () => {
    const r = await collect(ch.request(head({ target: '/', remoteAddress: '192.0.2.7', remotePort: 5555 })));
    expect(r.status).toBe(200);
    expect(r.body.toString()).toBe('Hello, 192.0.2.7:5555!\n');
    const h = Object.fromEntries(pairs(r.headers));
    expect(h['Content-Type']).toBe('text/plain; charset=utf-8');
    expect(h['Content-Length']).toBe(String(r.body.length));
  });

  it('gives the handler a full http.Request', async () => {
    const s = ch.request(
      head({
        method: 'PUT',
        target: '/headers?a=1&b=2',
        headers: ['Host', 'app.test:8443', 'x-multi', 'one', 'X-Multi', 'two'],
        remoteAddress: '::1',
        remotePort: 1234,
        tls: true,
        contentLength: 3,
      }),
    );
    s.writeBody(Buffer.from('abc'));
    s.endBody();
    const text = (await collect(s)).body.toString();
    expect(text).toContain('method=PUT\nuri=/headers?a=1&b=2\npath=/headers\nquery=a=1&b=2\nproto=HTTP/1.1\n');
    expect(text).toContain('host=app.test:8443\nremote=[::1]:1234\ntls=true\nlength=3\n');
    expect(text).toContain('h:X-Multi=one\nh:X-Multi=two\n');
    expect(text).not.toContain('h:Host=');
  });

  it('echoes a large POST body intact (checksum)', async () => {
    const body = crypto.randomBytes(32 * 1024 * 1024);
    const s = ch.request(head({ method: 'POST', target: '/echo', contentLength: body.length }));
    const done = collect(s);
    await sendBody(s, body);
    const r = await done;
    expect(r.body.length).toBe(body.length);
    expect(crypto.createHash('sha256').update(r.body).digest('hex')).toBe(crypto.createHash('sha256').update(body).digest('hex'));
  });

  it('echoes an empty and a one-byte body', async () => {
    for (const body of [Buffer.alloc(0), Buffer.from('x')]) {
      const s = ch.request(head({ method: 'POST', target: '/echo', contentLength: body.length }));
      const done = collect(s);
      await sendBody(s, body);
      expect((await done).body.equals(body)).toBe(true);
    }
  });

  it('streams flushed chunks before the handler returns', async () => {
    const s = ch.request(head({ target: '/stream?n=3' }));
    const first = new Promise<Buffer>((r) => s.once('data', r));
    const all = collect(s);
    expect((await first).toString()).toBe('chunk 0\n');
    const r = await all;
    expect(r.body.toString()).toBe('chunk 0\nchunk 1\nchunk 2\n');
    expect(pairs(r.headers).map(([k]) => k)).not.toContain('Content-Length');
  });

  it('serves many requests concurrently', async () => {
    const rs = await Promise.all(Array.from({ length: 300 }, (_, i) => collect(ch.request(head({ target: `/?i=${i}` })))));
    for (const r of rs) expect(r.status).toBe(200);
  });

  it('finishes in-flight work and exits 0 on shutdown', async () => {
    const s = ch.request(head({ method: 'POST', target: '/echo', contentLength: -1 }));
    const done = collect(s);
    s.writeBody(Buffer.from('in flight'));
    ch.shutdown();
    s.endBody();
    expect((await done).body.toString()).toBe('in flight');
    const closed = new Promise((r) => ch.once('close', r));
    expect(await exited(child)).toEqual({ code: 0, signal: null });
    expect(await closed).toBeUndefined();
    expect(stderr).toBe('');
  });
});

describeGo('the Go app in new network and ipc namespaces', () => {
  const ns = netIpcNamespaces();
  (ns.ok ? it : it.skip)(
    `serves over the channel with no network${ns.skipReason}`,
    async () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'warden-go-ns-'));
      const bin = buildGoHello(go!, dir);
      const ch = RouterChannel.create();
      const child = spawn('unshare', ['--net', '--ipc', '--', bin], {
        stdio: ['ignore', 'pipe', 'pipe', ch.fds[0], ch.fds[1]],
        env: { ...process.env, ...ch.env() },
      });
      ch.closeChildFds();
      await ch.ready;
      const body = crypto.randomBytes(1 << 20);
      const s = ch.request(head({ method: 'POST', target: '/echo', contentLength: body.length }));
      const done = collect(s);
      await sendBody(s, body);
      expect((await done).body.equals(body)).toBe(true);
      ch.shutdown();
      expect(await exited(child)).toEqual({ code: 0, signal: null });
      fs.rmSync(dir, { recursive: true, force: true });
    },
    60000,
  );
});

function pairs(flat: string[]): [string, string][] {
  const out: [string, string][] = [];
  for (let i = 0; i < flat.length; i += 2) out.push([flat[i], flat[i + 1]]);
  return out;
}
