// The lean path reads plain TCP client sockets into one buffer shared by all connections (internal/shared-read.ts):
// bodies reach a handler with onBodyView as views of it, and whatever a connection keeps past a read (a head in
// pieces, a body waiting for its handler, a chunk a plain onBody handler holds) must be its own copy, since the next
// read of any connection overwrites the buffer.
import { createHash, randomBytes } from 'crypto';
import { connect, type Socket } from 'net';
import type { HttpRouter, LeanExchange, LeanHandler } from '../src';
import { isSharedRead } from '../src/internal/shared-read';
import { startRouter } from './helpers';
import { LeanGateway } from './lean-gateway';

const sha = (b: Buffer | Buffer[]): string => {
  const h = createHash('sha256');
  for (const x of Array.isArray(b) ? b : [b]) h.update(x);
  return h.digest('hex');
};

/**
 * LeanGateway plus:
 * - `/views`: a handler with onBodyView that hashes the views at once and counts them (and how many were views of the
 *   shared buffer), answering with the hash;
 * - `/keep`: a handler with onBody only that keeps every chunk and hashes them all at the end;
 * - `/late`: attaches its handler (which keeps the chunks) only after `lateMs`, so the body waits in the exchange.
 */
class ViewGateway extends LeanGateway {
  views = 0;
  sharedViews = 0;
  plainChunks = 0;
  lateMs = 150;
  override handleLean(app: string, target: string | undefined, ex: LeanExchange): void {
    const path = ex.target.split('?')[0];
    const answer = (hash: string) => {
      ex.respond(200, ['Content-Length', String(hash.length)]);
      ex.write(Buffer.from(hash), true);
    };
    const base: LeanHandler = { onBody: () => true, onBodyEnd() {}, onWritable() {}, onAbort() {} };
    if (path === '/views') {
      const h = createHash('sha256');
      ex.attach({
        ...base,
        onBody: (c) => {
          this.plainChunks++;
          h.update(c);
          return true;
        },
        onBodyView: (v) => {
          this.views++;
          if (isSharedRead(v)) this.sharedViews++;
          h.update(v);
          return true;
        },
        onBodyEnd: () => answer(h.digest('hex')),
      });
      return;
    }
    if (path === '/keep' || path === '/late') {
      const kept: Buffer[] = [];
      const handler: LeanHandler = {
        ...base,
        onBody: (c) => (kept.push(c), true),
        onBodyEnd: () => setTimeout(() => answer(sha(kept)), 50), // hashed after other connections read more
      };
      if (path === '/keep') ex.attach(handler);
      else setTimeout(() => ex.attach(handler), this.lateMs);
      return;
    }
    super.handleLean(app, target, ex);
  }
}

const routers: HttpRouter[] = [];
afterEach(async () => {
  await Promise.all(routers.splice(0).map((r) => r.close(100)));
});
async function start(): Promise<{ port: number; gw: ViewGateway }> {
  const gw = new ViewGateway();
  const s = await startRouter({ pass: 'applications/app' }, { settings: { http: { max_body_size: 64 << 20 } } }, gw);
  routers.push(s.router);
  return { port: s.port, gw };
}

/** Sends raw bytes on a new connection and resolves with everything received until the server closes. */
function exchange(port: number, parts: Array<Buffer | string>, gapMs = 0): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock: Socket = connect(port, '127.0.0.1');
    let text = '';
    sock.on('data', (d) => (text += d.toString('latin1')));
    sock.on('error', reject);
    sock.on('close', () => resolve(text));
    sock.on('connect', async () => {
      for (const p of parts) {
        sock.write(p);
        if (gapMs > 0) await new Promise((r) => setTimeout(r, gapMs));
      }
    });
  });
}

const post = (path: string, body: Buffer): Buffer =>
  Buffer.concat([Buffer.from(`POST ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: ${body.length}\r\n\r\n`), body]);

/** Another connection's traffic, meant to overwrite the shared read buffer meanwhile: resolves with its answer. */
const noise = (port: number): Promise<string> => exchange(port, [post('/keep', randomBytes(512 * 1024))]);

describe('lean path: reads into a buffer shared by the connections', () => {
  it('gives a body to a handler with onBodyView as views of the shared buffer, intact', async () => {
    const { port, gw } = await start();
    const body = randomBytes(1 << 20);
    const text = await exchange(port, [post('/views', body)]);
    expect(text.endsWith(sha(body))).toBe(true);
    expect(gw.views).toBeGreaterThan(0);
    expect(gw.sharedViews).toBe(gw.views);
    expect(gw.plainChunks).toBe(0);
  });

  it('keeps a head that arrives in pieces intact while other connections read', async () => {
    const { port } = await start();
    const head = `GET /pieces/${'p'.repeat(200)}?q=1 HTTP/1.1\r\nHost: x\r\nX-Long: ${'v'.repeat(3000)}\r\nConnection: close\r\n\r\n`;
    const cut = head.length - 100;
    const sock = connect(port, '127.0.0.1');
    let text = '';
    sock.on('data', (d) => (text += d.toString('latin1')));
    const closed = new Promise((r) => sock.on('close', r));
    await new Promise((r) => sock.on('connect', r));
    sock.write(head.slice(0, cut));
    await new Promise((r) => setTimeout(r, 50));
    expect(await noise(port)).toMatch(/^HTTP\/1\.1 200 /);
    sock.write(head.slice(cut));
    await closed;
    expect(text).toMatch(/^HTTP\/1\.1 200 /);
    const json = JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4)) as { url: string; headers: string[] };
    expect(json.url).toBe(`/pieces/${'p'.repeat(200)}?q=1`);
    expect(json.headers).toContain('v'.repeat(3000));
  });

  it('keeps pipelined bytes behind a request intact while other connections read', async () => {
    const { port } = await start();
    const body = randomBytes(300);
    // The first request is held (/late attaches after 150 ms); the second waits in the connection's buffer meanwhile.
    const second = post('/keep', body);
    const both = Buffer.concat([post('/late', Buffer.from('first')), second])
      .toString('latin1')
      .replace('Connection: close\r\n', '');
    const answer = exchange(port, [Buffer.from(both, 'latin1')]);
    await new Promise((r) => setTimeout(r, 20));
    expect(await noise(port)).toMatch(/^HTTP\/1\.1 200 /);
    const text = await answer;
    expect(text.endsWith(sha(body))).toBe(true);
    expect(text).toContain(sha(Buffer.from('first')));
  });

  it('copies what a handler without onBodyView keeps, and a body that waits for its handler', async () => {
    const { port } = await start();
    const kept = randomBytes(256 * 1024);
    const late = randomBytes(32 * 1024);
    const answers = await Promise.all([exchange(port, [post('/keep', kept)]), exchange(port, [post('/late', late)]), noise(port), noise(port)]);
    expect(answers[0].endsWith(sha(kept))).toBe(true);
    expect(answers[1].endsWith(sha(late))).toBe(true);
  });
});
