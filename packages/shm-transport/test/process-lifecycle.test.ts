import * as crypto from 'crypto';
import * as fs from 'fs';
import { RouterChannel } from '../src';
import { collect, exited, head, netIpcNamespaces, spawnApp } from './helpers';

/** Deterministic pseudo-random block i (so neither side holds the whole body). */
function block(i: number, size: number): Buffer {
  const b = Buffer.allocUnsafe(size);
  let x = (i * 2654435761) >>> 0;
  for (let k = 0; k < size; k += 4) {
    x = (x * 1664525 + 1013904223) >>> 0;
    b.writeUInt32LE(x, k);
  }
  return b;
}

describe('channel across processes: lifecycle and limits', () => {
  it('streams a 100 MiB body through the app and back with bounded memory on both sides', async () => {
    const ch = RouterChannel.create();
    const child = spawnApp(ch, 'app-echo.ts');
    await ch.ready;
    const appMemory = async (): Promise<{ rss: number; peak: number }> => JSON.parse((await collect(ch.request(head({ target: '/memory' })))).body.toString());
    const app0 = await appMemory();
    const BLOCK = 1 << 20;
    const N = 100;
    const blocks = Array.from({ length: 4 }, (_, i) => block(i, BLOCK)); // reused: the body is blocks[i % 4]
    if (global.gc) global.gc();
    const rss0 = process.memoryUsage().rss;
    let rssMax = rss0;
    const s = ch.request(head({ method: 'POST', target: '/echo', contentLength: N * BLOCK }));
    const sent = crypto.createHash('sha256');
    const got = crypto.createHash('sha256');
    let received = 0;
    s.on('data', (c: Buffer) => {
      got.update(c);
      received += c.length;
    });
    const ended = new Promise<void>((res, rej) => {
      s.on('end', res);
      s.on('error', rej);
    });
    for (let i = 0; i < N; i++) {
      const b = blocks[i % 4];
      sent.update(b);
      if (!s.writeBody(b)) await new Promise((r) => s.once('drain', r));
      rssMax = Math.max(rssMax, process.memoryUsage().rss);
    }
    s.endBody();
    await ended;
    expect(received).toBe(N * BLOCK);
    expect(got.digest('hex')).toBe(sent.digest('hex'));
    // Router growth well below the body size (100 MiB).
    expect(rssMax - rss0).toBeLessThan(40 * 1024 * 1024);
    // The app's too, from its RSS when ready to its highest RSS while streaming. (Its RSS when ready is ~125 MB on
    // Node 20 and ~140 MB on Node 22, the node binary and the TypeScript compiler this fixture runs under: an
    // absolute bound measured those, not the channel.)
    const app1 = await appMemory();
    expect(app1.peak - app0.rss).toBeLessThan(40 * 1024 * 1024);
    ch.shutdown();
    await exited(child);
  }, 60000);

  it('queues behind a full ring while the app is stopped and catches up after SIGCONT', async () => {
    const ch = RouterChannel.create({ ringBytes: 1 << 16 });
    const child = spawnApp(ch, 'app-echo.ts');
    await ch.ready;
    process.kill(child.pid!, 'SIGSTOP');
    const body = crypto.randomBytes(200000);
    const streams = Array.from({ length: 20 }, () => ch.request(head({ method: 'POST', target: '/echo', contentLength: body.length })));
    const done = streams.map(collect);
    let refused = 0;
    for (const s of streams) {
      if (!s.writeBody(body)) refused++;
      s.endBody();
    }
    expect(refused).toBe(20); // 200 kB each: beyond any stream window
    process.kill(child.pid!, 'SIGCONT');
    for (const r of await Promise.all(done)) expect(r.body.equals(body)).toBe(true);
    ch.shutdown();
    await exited(child);
  });

  it('errors in-flight streams and closes with WARDEN_ERR_SHM_PEER_GONE when the app is killed', async () => {
    const ch = RouterChannel.create();
    const child = spawnApp(ch, 'app-echo.ts');
    await ch.ready;
    const streams = [1, 2, 3].map((i) => ch.request(head({ target: `/hang?${i}` })));
    const errors = streams.map((s) => new Promise<Error>((r) => s.once('error', r)));
    const closed = new Promise<Error | undefined>((r) => ch.once('close', r));
    await collect(ch.request(head())); // the hanging requests are in the app now
    child.kill('SIGKILL');
    const err = await closed;
    expect(err).toMatchObject({ code: 'WARDEN_ERR_SHM_PEER_GONE' });
    for (const e of await Promise.all(errors)) expect(e).toMatchObject({ code: 'WARDEN_ERR_SHM_PEER_GONE' });
    expect(await exited(child)).toEqual({ code: null, signal: 'SIGKILL' });
    expect(ch.activeStreams).toBe(0);
  });

  it('closes cleanly (no error) when the app exits after a shutdown request', async () => {
    const ch = RouterChannel.create();
    const child = spawnApp(ch, 'app-echo.ts');
    await ch.ready;
    const closed = new Promise<Error | undefined>((r) => ch.once('close', r));
    ch.shutdown();
    expect(await closed).toBeUndefined();
    expect((await exited(child)).code).toBe(0);
  });

  const ns = netIpcNamespaces();
  (ns.ok ? it : it.skip)(`works with the app in new network and ipc namespaces${ns.skipReason}`, async () => {
    const ch = RouterChannel.create();
    const child = spawnApp(ch, 'app-echo.ts', { prefix: ['unshare', '--net', '--ipc', '--'] });
    await ch.ready;
    const r = await collect(ch.request(head({ target: '/ns' })));
    const ns = JSON.parse(r.body.toString());
    expect(ns.net).not.toBe(fs.readlinkSync('/proc/self/ns/net'));
    expect(ns.ipc).not.toBe(fs.readlinkSync('/proc/self/ns/ipc'));
    expect(ns.interfaces.filter((i: string) => i !== 'lo')).toEqual([]); // no network: at most lo
    const body = crypto.randomBytes(3 << 20);
    const s = ch.request(head({ method: 'POST', target: '/echo', contentLength: body.length }));
    const done = collect(s);
    s.writeBody(body);
    s.endBody();
    expect((await done).body.equals(body)).toBe(true);
    ch.shutdown();
    expect((await exited(child)).code).toBe(0);
  });
});
