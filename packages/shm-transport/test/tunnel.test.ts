import { once } from 'events';
import { AppChannel, AppRequest, RouterChannel, RouterStream } from '../src';
import { head, inProcessPair } from './helpers';

/** Reads a stream's 'data' until `n` bytes came. */
function readBytes(s: RouterStream | AppRequest, n: number): Promise<Buffer> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let got = 0;
    const on = (c: Buffer): void => {
      chunks.push(c);
      got += c.length;
      if (got >= n) {
        s.off('data', on);
        resolve(Buffer.concat(chunks));
      }
    };
    s.on('data', on);
  });
}

const upgradeHead = () => head({ headers: ['Upgrade', 'websocket', 'Connection', 'Upgrade'], contentLength: -1, upgrade: true });

describe('upgrade tunnels over the channel (REQUEST flag UPGRADE, 101, bytes both ways)', () => {
  let router: RouterChannel;
  let app: AppChannel;
  afterEach(() => {
    router?.close();
    app?.close();
  });

  async function pair(capabilities: number): Promise<void> {
    ({ router, app } = inProcessPair({ ringBytes: 1 << 16 }));
    app.markReady({ upgrade: capabilities === AppChannel.CAP_UPGRADE });
    await router.ready;
  }

  it('refuses an upgrade head to an app that did not announce UPGRADE', async () => {
    await pair(0);
    expect(router.takesUpgrades).toBe(false);
    const s = router.request(upgradeHead());
    const [err] = await once(s, 'error');
    expect(String(err)).toMatch(/upgrade needs an app that announced UPGRADE/);
  });

  it('carries bytes both ways after 101, beyond several windows, until both sides ended', async () => {
    await pair(AppChannel.CAP_UPGRADE);
    expect(router.takesUpgrades).toBe(true);
    let appReq!: AppRequest;
    app.on('request', (r: AppRequest) => {
      appReq = r;
      expect(r.upgrade).toBe(true);
      r.respond(101, ['Upgrade', 'websocket']);
      // Echo with back-pressure.
      r.on('data', (c: Buffer) => {
        if (!r.write(c)) {
          r.pause();
          r.once('drain', () => r.resume());
        }
      });
      r.on('end', () => r.end());
    });
    const s = router.request(upgradeHead());
    const [status] = await once(s, 'response');
    expect(status).toBe(101);
    expect(s.tunnel).toBe(true);
    const total = 300 * 1024; // > 4 windows of a 64 KiB ring
    const sent = Buffer.alloc(total, 7);
    const echoed = readBytes(s, total);
    for (let off = 0; off < total; off += 10000) {
      if (!s.writeBody(sent.subarray(off, off + 10000))) await once(s, 'drain');
    }
    expect((await echoed).equals(sent)).toBe(true);
    expect(router.activeStreams).toBe(1);
    const ended = once(s, 'end');
    s.endBody();
    await ended;
    await new Promise((r) => setImmediate(r));
    expect(router.activeStreams).toBe(0);
    expect(app.activeStreams).toBe(0);
    expect(appReq.aborted).toBe(false);
  });

  it('keeps the client direction open after the app ended its own, and the app still reads it', async () => {
    await pair(AppChannel.CAP_UPGRADE);
    const got: Buffer[] = [];
    const appEnded = new Promise<void>((resolve) => {
      app.on('request', (r: AppRequest) => {
        r.respond(101, []);
        r.end(Buffer.from('bye'));
        r.on('data', (c: Buffer) => got.push(c));
        r.on('end', () => resolve());
      });
    });
    const s = router.request(upgradeHead());
    const body = readBytes(s, 3);
    await once(s, 'end');
    expect((await body).toString()).toBe('bye');
    expect(router.activeStreams).toBe(1); // the client side is still open
    s.writeBody(Buffer.from('late'));
    s.endBody();
    await appEnded;
    expect(Buffer.concat(got).toString()).toBe('late');
    await new Promise((r) => setImmediate(r));
    expect(router.activeStreams).toBe(0);
  });

  it('treats a non-101 answer to an upgrade request as an ordinary response', async () => {
    await pair(AppChannel.CAP_UPGRADE);
    app.on('request', (r: AppRequest) => r.end('plain'));
    const s = router.request(upgradeHead());
    const body = readBytes(s, 5);
    const ended = once(s, 'end');
    const [status] = await once(s, 'response');
    expect(status).toBe(200);
    expect(s.tunnel).toBe(false);
    await ended;
    expect((await body).toString()).toBe('plain');
    expect(router.activeStreams).toBe(0);
  });
});
