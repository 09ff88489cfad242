import * as crypto from 'crypto';
import { ChildProcess } from 'child_process';
import { RouterChannel } from '../src';
import { collect, exited, head, sendBody, spawnApp, stderrOf } from './helpers';

describe('router end and Node app end in two processes', () => {
  let ch: RouterChannel;
  let child: ChildProcess;

  beforeAll(async () => {
    ch = RouterChannel.create();
    child = spawnApp(ch, 'app-echo.ts');
    await ch.ready;
  });
  afterAll(async () => {
    ch.shutdown();
    await exited(child);
  });

  it('round-trips a GET with its response head and body', async () => {
    const r = await collect(ch.request(head({ target: '/hello?x=1' })));
    expect(r.status).toBe(200);
    expect(r.headers).toEqual(['content-type', 'text/plain']);
    expect(r.body.toString()).toBe('hello GET /hello?x=1');
  });

  it('passes every field of the request head', async () => {
    const h = head({
      method: 'PATCH',
      target: '/headers?q=%20',
      httpVersion: '1.0',
      headers: ['Host', 'h', 'X-A', 'b', 'x-a', 'c'],
      remoteAddress: '::1',
      remotePort: 65535,
      localAddress: '10.0.0.1',
      localPort: 1,
      tls: true,
      contentLength: -1,
    });
    const s = ch.request(h);
    s.endBody();
    const r = await collect(s);
    expect(JSON.parse(r.body.toString())).toEqual(h);
  });

  it.each([0, 1, 65536, 10 * 1024 * 1024])('echoes a body of %i bytes intact', async (n) => {
    const body = crypto.randomBytes(n);
    const s = ch.request(head({ method: 'POST', target: '/echo', contentLength: n }));
    const done = collect(s);
    await sendBody(s, body);
    const r = await done;
    expect(r.body.length).toBe(n);
    expect(r.body.equals(body)).toBe(true);
  });

  it('serves many concurrent streams', async () => {
    const results = await Promise.all(Array.from({ length: 500 }, (_, i) => collect(ch.request(head({ target: `/hello?i=${i}` })))));
    results.forEach((r, i) => expect(r.body.toString()).toBe(`hello GET /hello?i=${i}`));
    expect(ch.activeStreams).toBe(0);
  });

  it('reports an app abort as a stream error', async () => {
    await expect(collect(ch.request(head({ target: '/abort' })))).rejects.toMatchObject({ code: 'WARDEN_ERR_SHM_STREAM_ABORTED' });
  });

  it('tells the app when the router aborts a stream', async () => {
    const s = ch.request(head({ target: '/hang?id=7' }));
    const line = new Promise<string>((resolve) => {
      const onData = (d: Buffer) => {
        if (d.toString().includes('aborted /hang?id=7')) {
          child.stdout!.off('data', onData);
          resolve(d.toString());
        }
      };
      child.stdout!.on('data', onData);
    });
    // Wait until the app has the request: an /hello behind it on the same ring is answered after it.
    await collect(ch.request(head({ target: '/hello' })));
    s.abort();
    expect(await line).toContain('aborted /hang?id=7');
  });

  it('keeps working after all of the above', async () => {
    expect((await collect(ch.request(head()))).status).toBe(200);
    expect(stderrOf.get(child) ?? '').toBe('');
  });
});
