import { once } from 'events';
import { AppChannel, AppRequest, RouterChannel, RouterStream } from '../src';
import { collect, head, inProcessPair } from './helpers';

// The protocol's HTTP extensions (PROTOCOL.md "Connections", "Trailers and 1xx responses"): connection ids and
// CONN_CLOSED for an app that asks for them, TRAILERS and INFO frames, and old apps untouched.

async function nextRequest(app: AppChannel): Promise<AppRequest> {
  const [req] = (await once(app, 'request')) as [AppRequest];
  return req;
}

describe('HTTP extensions of the channel', () => {
  let router: RouterChannel;
  let app: AppChannel;
  afterEach(() => {
    router?.close();
    app?.close();
  });

  it('offers connections, trailers and early hints in the header features word', () => {
    ({ router, app } = inProcessPair());
    expect(app.connectionIds).toBe(true);
    expect(app.trailersSupported).toBe(true);
    expect(app.earlyHints).toBe(true);
  });

  it('passes the connection id and CONN_CLOSED to an app that announced CONNECTIONS in READY', async () => {
    ({ router, app } = inProcessPair());
    app.markReady({ connections: true });
    await router.ready;
    expect(router.connectionIds).toBe(true);
    const got = nextRequest(app);
    router.request(head({ connection: 4000000001 }));
    expect((await got).connection).toBe(4000000001);
    const closed = once(app, 'connection-close');
    router.connectionClosed(4000000001);
    expect(await closed).toEqual([4000000001]);
  });

  it('gives an app that did not announce CONNECTIONS no connection id and no CONN_CLOSED (old apps unchanged)', async () => {
    ({ router, app } = inProcessPair());
    app.markReady();
    await router.ready;
    expect(router.connectionIds).toBe(false);
    const frames: string[] = [];
    app.on('connection-close', () => frames.push('CONN_CLOSED'));
    const got = nextRequest(app);
    router.request(head({ connection: 7 }));
    router.connectionClosed(7);
    const req = await got;
    expect(req.connection).toBe(0);
    // A second request after the would-be CONN_CLOSED proves it was not sent (frames are delivered in order).
    const second = nextRequest(app);
    router.request(head());
    await second;
    expect(frames).toEqual([]);
  });

  it('carries trailers after the body and before the end, in order, without the END flag on the last DATA', async () => {
    ({ router, app } = inProcessPair());
    app.on('request', (req: AppRequest) => {
      req.respond(200, ['Trailer', 'X-Sum']);
      req.write('abc');
      expect(req.trailers(['X-Sum', '42', 'X-Other', 'a b'])).toBe(true);
      req.end('def');
    });
    const s = router.request(head());
    const events: string[] = [];
    s.on('trailers', (t: string[]) => events.push(`trailers ${t.join(',')}`));
    s.on('data', (c: Buffer) => events.push(`data ${c}`));
    const r = await collect(s);
    expect(r.body.toString()).toBe('abcdef');
    expect(events).toEqual(['data abc', 'data def', 'trailers X-Sum,42,X-Other,a b']);
  });

  it('carries 1xx responses before the final response, and refuses one after it', async () => {
    ({ router, app } = inProcessPair());
    let late: boolean | undefined;
    app.on('request', (req: AppRequest) => {
      expect(req.info(103, ['Link', '</a.css>; rel=preload'])).toBe(true);
      expect(req.info(103, ['Link', '</b.js>; rel=preload'])).toBe(true);
      req.respond(200, []);
      late = req.info(103, []);
      req.end('x');
    });
    const s: RouterStream = router.request(head());
    const infos: unknown[] = [];
    s.on('info', (status: number, h: string[]) => infos.push([status, h]));
    const r = await collect(s);
    expect(r.status).toBe(200);
    expect(infos).toEqual([
      [103, ['Link', '</a.css>; rel=preload']],
      [103, ['Link', '</b.js>; rel=preload']],
    ]);
    expect(late).toBe(false);
  });

  it('rejects an informational status that is not 1xx or is 101', () => {
    ({ router, app } = inProcessPair());
    const got = nextRequest(app);
    router.request(head());
    return got.then((req) => {
      expect(() => req.info(200, [])).toThrow(/1xx/);
      expect(() => req.info(101, [])).toThrow(/1xx/);
    });
  });
});
