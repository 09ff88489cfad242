import * as crypto from 'crypto';
import { EventEmitter, once } from 'events';
import * as fs from 'fs';
import { AppChannel, AppRequest, RouterChannel } from '../src';
import { native } from '../src/internal/native';
import { collect, head, inProcessPair, sendBody } from './helpers';

/** Echo server on an in-process app end: streams the request body back with back-pressure. */
function serveEcho(app: AppChannel): void {
  app.on('request', (req: AppRequest) => {
    req.respond(200, ['x-target', req.target]);
    req.on('data', (c: Buffer) => {
      if (!req.write(c)) {
        req.pause();
        req.once('drain', () => req.resume());
      }
    });
    req.on('end', () => req.end());
  });
}

describe('channel (both ends in one process)', () => {
  let router: RouterChannel;
  let app: AppChannel;
  afterEach(() => {
    router?.close();
    app?.close();
  });

  it('wraps the rings and the 32-bit counters many times without corrupting frames', async () => {
    ({ router, app } = inProcessPair({ ringBytes: 1 << 16, counterStart: 0xffff0000 }));
    serveEcho(app);
    const rnd = crypto.createHash('sha256');
    for (let round = 0; round < 20; round++) {
      const bodies = Array.from({ length: 50 }, (_, i) => crypto.randomBytes((round * 7919 + i * 104729) % 20011));
      const results = await Promise.all(
        bodies.map(async (b, i) => {
          const s = router.request(head({ method: 'POST', target: `/r${round}/${i}`, contentLength: b.length }));
          const done = collect(s);
          await sendBody(s, b, 3001);
          return done;
        }),
      );
      results.forEach((r, i) => {
        expect(r.headers).toEqual(['x-target', `/r${round}/${i}`]);
        expect(r.body.equals(bodies[i])).toBe(true);
        rnd.update(r.body);
      });
    }
    expect(router.activeStreams).toBe(0);
  });

  it('queues behind a full ring and delivers everything once the app consumes', async () => {
    router = RouterChannel.create({ ringBytes: 1 << 16 });
    const body = Buffer.alloc(20000, 1); // more than one stream window (16 KiB): writeBody must ask to wait
    const streams = Array.from({ length: 100 }, (_, i) => router.request(head({ method: 'POST', target: `/${i}`, contentLength: body.length })));
    const accepted = streams.map((s) => s.writeBody(body));
    streams.forEach((s) => s.endBody());
    expect(accepted.every((a) => !a)).toBe(true);
    // 100 heads + 1.6 MB of window-limited body do not fit a 64 KiB ring: frames wait in the queue.
    await new Promise((r) => setImmediate(r));
    expect((router as unknown as { pending: Buffer[]; blocked: Set<unknown> }).blocked.size).toBeGreaterThan(0);
    const done = streams.map(collect);
    app = AppChannel.open(router.fds[0], router.fds[1]);
    router._forgetChildFds();
    serveEcho(app);
    const rs = await Promise.all(done);
    rs.forEach((r) => expect(r.body.equals(body)).toBe(true));
  });

  it('serves 2000 concurrent streams', async () => {
    ({ router, app } = inProcessPair({ ringBytes: 1 << 16 }));
    serveEcho(app);
    const rs = await Promise.all(
      Array.from({ length: 2000 }, (_, i) => {
        const s = router.request(head({ method: 'POST', target: `/${i}`, contentLength: -1 }));
        s.writeBody(Buffer.from(`body ${i}`));
        s.endBody();
        return collect(s);
      }),
    );
    rs.forEach((r, i) => expect(r.body.toString()).toBe(`body ${i}`));
    expect(router.activeStreams).toBe(0);
    expect(app.activeStreams).toBe(0);
  });

  it('stops the app after one window when the router pauses a response, and resumes', async () => {
    ({ router, app } = inProcessPair({ ringBytes: 1 << 16 }));
    let refusedAt = -1;
    let req!: AppRequest;
    const total = 1 << 20;
    app.on('request', (r: AppRequest) => {
      req = r;
      r.respond(200, []);
      let sent = 0;
      const pump = (): void => {
        while (sent < total) {
          sent += 4096;
          if (!r.write(Buffer.alloc(4096, 7))) {
            if (refusedAt < 0) refusedAt = sent;
            r.once('drain', pump);
            return;
          }
        }
        r.end();
      };
      pump();
    });
    const s = router.request(head());
    let received = 0;
    s.on('data', (c: Buffer) => (received += c.length));
    s.pause();
    await new Promise((r) => s.once('response', r));
    // Let the app run into its window: wait until it was refused and the refusal is stable.
    while (refusedAt < 0) await new Promise((r) => setImmediate(r));
    for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
    const window = (1 << 16) / 4;
    expect(received).toBe(0);
    expect(refusedAt).toBeLessThanOrEqual(window + 4096);
    expect(req._backlog!.length).toBeGreaterThan(0);
    const ended = new Promise((r) => s.once('end', r));
    s.resume();
    await ended;
    expect(received).toBe(total);
  });

  it('fails open streams, rejects ready and errors later requests when closed', async () => {
    ({ router, app } = inProcessPair());
    const appClosed = new Promise((r) => app.once('close', r));
    const s = router.request(head({ target: '/never' }));
    const err = new Promise<Error>((r) => s.once('error', r));
    const closeEv = new Promise((r) => router.once('close', r));
    router.close();
    expect((await err).message).toMatch(/WARDEN_ERR_SHM_CLOSED/);
    expect(await closeEv).toBeUndefined();
    await expect(router.ready).rejects.toThrow(/closed before the app was ready/);
    const late = router.request(head());
    await expect(new Promise((_, rej) => late.once('error', rej))).rejects.toThrow(/closed/);
    await appClosed; // the app end sees EOF on the doorbell
  });

  it('rejects an invalid head even right after a valid one with the same strings', async () => {
    ({ router, app } = inProcessPair());
    serveEcho(app);
    const hs = ['host', 'x'];
    expect((await collect(router.request(head({ target: '/ok', headers: hs })))).status).toBe(200);
    const bad = [
      head({ target: '/ok', headers: hs, contentLength: -5 }),
      head({ target: '/ok', headers: hs, remotePort: 1.5 }),
      head({ target: '/ok', headers: ['host', 7 as unknown as string] }),
      head({ target: '/ok', headers: [...hs, 'odd'] }),
    ];
    for (const h of bad) {
      await expect(collect(router.request(h))).rejects.toMatchObject({
        code: 'WARDEN_ERR_SHM_PROTOCOL',
        message: expect.stringMatching(/invalid request head/),
      });
    }
    expect((await collect(router.request(head({ target: '/ok', headers: hs })))).status).toBe(200);
  });

  it('refuses invalid response headers even right after valid ones with the same strings', async () => {
    ({ router, app } = inProcessPair());
    const refusals: string[] = [];
    app.on('request', (req: AppRequest) => {
      const heads: Record<string, unknown> = { '/ok': ['a', 'b'], '/num': ['a', 5], '/odd': ['a', 'b', 'c'] };
      try {
        req.respond(200, heads[req.target] as string[]);
      } catch (e) {
        refusals.push(`${req.target} ${(e as Error).message}`);
        req.respond(500, []);
      }
      req.end();
    });
    for (const t of ['/ok', '/num', '/ok', '/odd', '/ok']) await collect(router.request(head({ target: t })));
    expect(refusals).toEqual([
      '/num WARDEN_ERR_SHM_PROTOCOL: headers must be a flat [name, value, ...] array of strings',
      '/odd WARDEN_ERR_SHM_PROTOCOL: headers must be a flat [name, value, ...] array of strings',
    ]);
  });

  it('delivers a response written in the same callback that closes the app end', async () => {
    ({ router, app } = inProcessPair());
    app.on('request', (req: AppRequest) => {
      req.respond(200, ['x', 'y']);
      req.end('bye'); // written during the app's drain: published when it closes, not lost
      app.close();
    });
    const closed = new Promise((r) => router.once('close', r));
    const res = await collect(router.request(head({ target: '/last' })));
    expect(res.body.toString()).toBe('bye');
    expect(await closed).toMatchObject({ code: 'WARDEN_ERR_SHM_PEER_GONE' });
  });

  it('delivers body bytes and an end queued for the end of the tick when the app end closes in the same callback', async () => {
    ({ router, app } = inProcessPair());
    app.on('request', (req: AppRequest) => {
      req.respond(200, []);
      req.write(Buffer.from('by')); // queued, pumped at the end of the tick: a tick that never ends after process.exit()
      req.write(Buffer.from('e'));
      req.end();
      app.close();
    });
    const closed = new Promise((r) => router.once('close', r));
    const res = await collect(router.request(head({ target: '/last' })));
    expect(res.body.toString()).toBe('bye');
    expect(await closed).toMatchObject({ code: 'WARDEN_ERR_SHM_PEER_GONE' });
  });

  it('errors a stream whose head does not fit in a frame, and keeps the channel', async () => {
    ({ router, app } = inProcessPair({ ringBytes: 1 << 16 }));
    serveEcho(app);
    const s = router.request(head({ headers: ['x-big', 'a'.repeat(20000)] }));
    await expect(collect(s)).rejects.toMatchObject({ code: 'WARDEN_ERR_SHM_HEAD_TOO_LARGE' });
    const ok = router.request(head({ method: 'POST' }));
    ok.endBody();
    expect((await collect(ok)).status).toBe(200);
  });

  it('resolves ready on READY and hands SHUTDOWN to the app', async () => {
    ({ router, app } = inProcessPair());
    const shut = new Promise((r) => app.once('shutdown', r));
    app.markReady();
    await router.ready;
    router.shutdown();
    await shut;
  });

  it('routes a stream to its sink instead of events: head, body with the last flag, end, drain, errors', async () => {
    ({ router, app } = inProcessPair({ ringBytes: 1 << 16 }));
    app.on('request', (req: AppRequest) => {
      if (req.target === '/fail') return req.abort();
      const parts: Buffer[] = [];
      req.on('data', (c: Buffer) => parts.push(c));
      req.on('end', () => {
        req.respond(201, ['x-len', String(Buffer.concat(parts).length)]);
        if (req.target === '/two') req.write('a');
        setImmediate(() => req.end('bc')); // a later tick: the last chunk arrives without the first
      });
    });
    const run = (target: string, body: Buffer) =>
      new Promise<string[]>((resolve) => {
        const calls: string[] = [];
        const s = router.request(head({ method: 'POST', target, contentLength: body.length }));
        s.on('data', () => calls.push('event'));
        s.on('end', () => calls.push('event'));
        s.setSink({
          onResponse: (status, headers) => calls.push(`response ${status} ${headers.join(',')}`),
          onData: (chunk, last) => calls.push(`data ${chunk.toString()} ${last}`),
          onEnd: () => resolve([...calls, 'end']),
          onDrain: () => calls.push('drain'),
          onError: (err) => resolve([...calls, `error ${(err as { code?: string }).code}`]),
        });
        if (body.length > 0 && !s.writeBody(body)) calls.push('wait');
        s.endBody();
      });
    const big = Buffer.alloc(20000, 7); // more than one window: writeBody asks to wait, the sink gets onDrain
    expect(await run('/two', big)).toEqual(['wait', 'drain', 'response 201 x-len,20000', 'data a false', 'data bc true', 'end']);
    expect(await run('/one', Buffer.from('xy'))).toEqual(['response 201 x-len,2', 'data bc true', 'end']);
    expect(await run('/fail', Buffer.alloc(0))).toEqual(['error WARDEN_ERR_SHM_STREAM_ABORTED']);
  });

  it('gives a sink with onDataView the chunks over 1 KiB as views of the ring while it flows, copies otherwise', async () => {
    ({ router, app } = inProcessPair({ ringBytes: 1 << 20 }));
    // Two bursts: the sink pauses at the first view, so the rest of the first burst is queued (copied); the second
    // burst comes after the resume.
    const bursts = [
      [100, 5000, 3000],
      [70000, 1024, 1025],
    ];
    const total = bursts.flat().reduce((a, b) => a + b, 0);
    // The second burst is written once the sink has resumed (a fixed delay raced the resume on a loaded machine).
    let resumed!: () => void;
    const flowing = new Promise<void>((r) => (resumed = r));
    app.on('request', (req: AppRequest) => {
      req.respond(200, []);
      let i = 0;
      for (const n of bursts[0]!) req.write(Buffer.alloc(n, ++i));
      void flowing.then(() =>
        setTimeout(() => {
          for (const n of bursts[1]!) req.write(Buffer.alloc(n, ++i));
          req.end();
        }, 20),
      );
    });
    const calls: string[] = [];
    const got: Buffer[] = [];
    const s = router.request(head());
    await new Promise<void>((resolve) =>
      s.setSink({
        onResponse: () => undefined,
        onData: (chunk, last) => {
          calls.push(`copy ${chunk.length}${last ? ' last' : ''}`);
          got.push(chunk);
        },
        onDataView: (view, last) => {
          // A view of the channel's memory (the ring's ArrayBuffer, not a private one), reused once this returns.
          calls.push(`view ${view.length}${last ? ' last' : ''}${view.buffer.byteLength >= 1 << 20 ? '' : ' (not the ring)'}`);
          got.push(Buffer.from(view));
          view.fill(0);
          if (calls.length === 2) {
            s.pause();
            setTimeout(() => {
              s.resume();
              resumed();
            }, 30);
          }
        },
        onEnd: () => resolve(),
        onDrain: () => undefined,
        onError: (err) => {
          throw err;
        },
      }),
    );
    s.endBody();
    expect(calls).toEqual(['copy 100', 'view 5000', 'copy 3000', 'view 70000', 'copy 1024', 'view 1025 last']);
    const body = Buffer.concat(got);
    expect(body.length).toBe(total);
    let at = 0;
    bursts.flat().forEach((n, i) => {
      expect(body.subarray(at, at + n).every((b) => b === i + 1)).toBe(true);
      at += n;
    });
    expect(router.activeStreams).toBe(0);
  });

  it('routes an app request to its sink instead of events: body with the last flag, end, drain, abort', async () => {
    ({ router, app } = inProcessPair({ ringBytes: 1 << 16 }));
    const seen: Record<string, string[]> = {};
    app.on('request', (req: AppRequest) => {
      const calls: string[] = (seen[req.target] = []);
      req.on('data', () => calls.push('event'));
      req.on('end', () => calls.push('event'));
      req.on('abort', () => calls.push('event'));
      let got = 0;
      req.setSink({
        onData: (chunk, last) => {
          got += chunk.length;
          calls.push(`data ${chunk.length} ${last}`);
        },
        onEnd: () => {
          calls.push('end');
          if (req.target === '/hang') return; // answered never: the router aborts it
          req.respond(200, []);
          // More than one window of response body: write() asks to wait, the sink gets onDrain.
          if (!req.write(Buffer.alloc(20000, 1))) calls.push('wait');
          req.end(String(got));
        },
        onDrain: () => calls.push('drain'),
        onAbort: () => calls.push('abort'),
      });
    });
    const echo = router.request(head({ method: 'POST', target: '/echo', contentLength: 3 }));
    const answer = collect(echo);
    await sendBody(echo, Buffer.from('abc'));
    const { body } = await answer;
    expect(body.length).toBe(20001);
    expect(body.subarray(20000).toString()).toBe('3');
    expect(seen['/echo']).toEqual(['data 3 true', 'end', 'wait', 'drain']);
    const s = router.request(head({ target: '/hang' }));
    const callsOf = (target: string): number => seen[target]?.length ?? 0;
    while (callsOf('/hang') !== 1) await new Promise((r) => setImmediate(r));
    s.abort();
    while (callsOf('/hang') !== 2) await new Promise((r) => setImmediate(r));
    expect(seen['/hang']).toEqual(['end', 'abort']);
  });

  it('sends a last chunk given to endBody()/end() with the end, in order after earlier writes, whatever its size', async () => {
    ({ router, app } = inProcessPair({ ringBytes: 1 << 16 })); // window 16 KiB
    const seen: string[] = [];
    app.on('request', (req: AppRequest) => {
      const parts: Buffer[] = [];
      req.setSink({
        onData: (c, last) => {
          parts.push(c);
          seen.push(`${req.target} ${c.length} ${last}`);
        },
        onEnd: () => {
          const body = Buffer.concat(parts);
          req.respond(200, []);
          if (req.target === '/split') req.write(body.subarray(0, 1));
          req.end(req.target === '/split' ? body.subarray(1) : body);
        },
        onDrain: () => undefined,
        onAbort: () => undefined,
      });
    });
    const roundTrip = async (target: string, body: Buffer, first?: Buffer) => {
      const s = router.request(head({ method: 'POST', target, contentLength: body.length + (first?.length ?? 0) }));
      const answer = collect(s);
      if (first) s.writeBody(first);
      s.endBody(body);
      return (await answer).body;
    };
    expect((await roundTrip('/small', Buffer.from('abc'))).toString()).toBe('abc');
    const big = crypto.randomBytes(40000); // more than the window: held until credit comes
    expect((await roundTrip('/big', big)).equals(big)).toBe(true);
    expect((await roundTrip('/split', Buffer.from('yz'), Buffer.from('x'))).toString()).toBe('xyz');
    expect(seen[0]).toBe('/small 3 true'); // one DATA frame with the END flag
    expect(seen.filter((l) => l.startsWith('/big')).length).toBeGreaterThan(1);
    expect(seen.filter((l) => l.startsWith('/split'))).toEqual(['/split 1 false', '/split 2 true']);
    // With contentLength 0 the END went out with the REQUEST: a chunk given to endBody() afterwards is dropped.
    const s = router.request(head({ target: '/small' }));
    const answer = collect(s);
    s.endBody(Buffer.from('late'));
    expect((await answer).body.length).toBe(0);
  });

  it('streams are EventEmitters whose listener table appears on first use', async () => {
    ({ router, app } = inProcessPair());
    serveEcho(app);
    const s = router.request(head({ target: '/ee' }));
    expect(s).toBeInstanceOf(EventEmitter);
    expect(s.listenerCount('data')).toBe(0);
    expect(s.eventNames()).toEqual([]);
    expect(s.emit('nothing')).toBe(false);
    s.removeAllListeners('data').removeListener('end', () => undefined);
    expect(s.getMaxListeners()).toBe(EventEmitter.defaultMaxListeners);
    const ended = once(s, 'end');
    s.on('data', () => undefined);
    expect(s.listenerCount('data')).toBe(1);
    await ended;
    expect(() => s.emit('error', new Error('unhandled'))).toThrow('unhandled'); // the usual rule for 'error'
  });

  it("carries the app's reason phrase and an HTTP/1.0 status line to the router, which offers them in its header", async () => {
    ({ router, app } = inProcessPair());
    expect(app.statusLineExtensions).toBe(true);
    app.on('request', (r: AppRequest) => {
      if (r.target === '/reason') r.respond(299, ['X-A', '1'], 'Custom Reason', true);
      else r.respond(200, []);
      r.end();
    });
    const got: unknown[] = [];
    for (const target of ['/reason', '/plain']) {
      const s = router.request(head({ target }));
      s.on('response', (status, headers, reason, http10) => got.push([status, headers, reason, http10]));
      await collect(s);
    }
    expect(got).toEqual([
      [299, ['X-A', '1'], 'Custom Reason', true],
      [200, [], undefined, false],
    ]);
  });

  it('refuses a reason phrase with a line break at the app end', async () => {
    ({ router, app } = inProcessPair());
    const errors: string[] = [];
    app.on('request', (r: AppRequest) => {
      try {
        r.respond(200, [], 'OK\r\nX-Injected: 1');
      } catch (e) {
        errors.push((e as Error).message);
        r.respond(200, []);
      }
      r.end();
    });
    await collect(router.request(head({})));
    expect(errors[0]).toMatch(/reason phrase/);
  });

  it('aborts in both directions', async () => {
    ({ router, app } = inProcessPair());
    const appAborts: string[] = [];
    app.on('request', (r: AppRequest) => {
      if (r.target === '/fail') r.abort();
      else if (r.target === '/reset') r.abort(true);
      else r.on('abort', () => appAborts.push(r.target));
    });
    await expect(collect(router.request(head({ target: '/fail' })))).rejects.toMatchObject({ code: 'WARDEN_ERR_SHM_STREAM_ABORTED' });
    // ABORT reason 3: the app reset the stream (the router resets the client connection, no 502).
    await expect(collect(router.request(head({ target: '/reset' })))).rejects.toMatchObject({ code: 'WARDEN_ERR_SHM_STREAM_RESET' });
    const s = router.request(head({ target: '/slow' }));
    await new Promise((r) => setImmediate(r));
    s.abort();
    while (appAborts.length === 0) await new Promise((r) => setImmediate(r));
    expect(appAborts).toEqual(['/slow']);
    expect(router.activeStreams).toBe(0);
  });
});

describe('AppChannel.fromEnv', () => {
  it('returns null outside wardend and rejects malformed or unusable settings with WARDEN_ERR_SHM_SETUP', () => {
    expect(AppChannel.fromEnv({})).toBeNull();
    expect(AppChannel.fromEnv({ WARDEN_CHANNEL: '' })).toBeNull();
    expect(() => AppChannel.fromEnv({ WARDEN_CHANNEL: 'v2:fds=3,4' })).toThrow(/WARDEN_ERR_SHM_SETUP/);
    expect(() => AppChannel.fromEnv({ WARDEN_CHANNEL: 'v1:fds=999,998' })).toThrow(/WARDEN_ERR_SHM_SETUP: cannot map/);
    // A memfd that does not hold a channel header.
    const router = RouterChannel.create({ ringBytes: 1 << 16 });
    const u32 = new Uint32Array(native().mapMemory(router.fds[0]), 0, 4);
    u32[0] = 0; // break the magic
    const memFd = fs.openSync(`/proc/self/fd/${router.fds[0]}`, 'r+');
    expect(() => AppChannel.open(memFd, router.fds[1])).toThrow(/WARDEN_ERR_SHM_SETUP: channel memory at fd \d+: bad magic/);
    router.close();
  });
});
